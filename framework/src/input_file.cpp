#include "nusky/input_file.hpp"

#include "nusky/error.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nusky {

void require_input_file(const std::string& path, const std::string& expected)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int error = errno;
        if (error == ELOOP) throw file_error(path, 0, "cannot open for reading: a loop of symbolic links");
        throw file_error(path, 0, std::string("cannot open for reading: ") + std::strerror(error));
    }
    if (S_ISDIR(st.st_mode)) throw file_error(path, 0, "is a directory, expected " + expected);
    if (S_ISFIFO(st.st_mode)) throw file_error(path, 0, "is a named pipe, not a regular file (expected " + expected + ")");
    if (!S_ISREG(st.st_mode))
        throw file_error(path, 0, "is not a regular file (a device or socket; expected " + expected + ")");
    if (::access(path.c_str(), R_OK) != 0)
        throw file_error(path, 0, std::string("cannot open for reading: ") + std::strerror(errno));
}

}  // namespace nusky
