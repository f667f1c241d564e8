#pragma once
// Every input file is checked before it is opened. Opening a named pipe for reading blocks until
// some writer comes (a job would hang), a directory or a device is not data, and a loop of
// symbolic links fails deep inside the standard library: each is instead one error naming the
// path.
#include <string>

namespace nusky {

// Throws nusky::Error "PATH: what" unless `path` is (or links to) a readable regular file:
// "cannot open for reading: No such file or directory" (or the system's reason, e.g.
// "Permission denied"), "cannot open for reading: a loop of symbolic links",
// "is a directory, expected EXPECTED", "is a named pipe, not a regular file (expected EXPECTED)",
// "is not a regular file (a device or socket; expected EXPECTED)".
void require_input_file(const std::string& path, const std::string& expected = "a file");

}  // namespace nusky
