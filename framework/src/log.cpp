#include "nusky/log.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace nusky::log {

namespace {
int g_rank = 0;
int g_size = 1;
bool g_all_ranks = false;
auto g_start = std::chrono::steady_clock::now();

void print(const char* level, const std::string& message)
{
    std::fprintf(stderr, "[nusky %d/%d %7.2fs] %s%s\n", g_rank, g_size, elapsed_s(), level,
                 message.c_str());
    std::fflush(stderr);
}
}  // namespace

void init(int rank, int size)
{
    g_rank = rank;
    g_size = size;
    const char* all = std::getenv("NUSKY_LOG_ALL_RANKS");
    g_all_ranks = all && std::string(all) == "1";
    g_start = std::chrono::steady_clock::now();
}

void info(const std::string& message)
{
    if (g_rank == 0 || g_all_ranks) print("", message);
}

void warn(const std::string& message)
{
    if (g_rank == 0 || g_all_ranks) print("warning: ", message);
}

void error(const std::string& message)
{
    std::fprintf(stderr, "nusky: error: %s%s\n",
                 g_size > 1 ? ("[rank " + std::to_string(g_rank) + "] ").c_str() : "",
                 message.c_str());
    std::fflush(stderr);
}

double elapsed_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
}

}  // namespace nusky::log
