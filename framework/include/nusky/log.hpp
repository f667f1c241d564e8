#pragma once
// Logging with a rank prefix. By default only rank 0 speaks (NUSKY_LOG_ALL_RANKS=1 for all);
// errors from any rank are always printed.
#include <string>

namespace nusky::log {

void init(int rank, int size);
void info(const std::string& message);
void warn(const std::string& message);
// Printed by every rank that calls it.
void error(const std::string& message);
// Seconds since init().
double elapsed_s();

}  // namespace nusky::log
