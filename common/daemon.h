// What the daemons' mains do the same way: fail with one line, make the data
// directory, raise the descriptor limit, run the loop until SIGTERM/SIGINT.
#pragma once

#include <event2/event.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace vytal {

// Prints "<program>: <message>" on stderr and returns exit_code (for main).
int exit_with(const char* program, int exit_code, std::string_view message);

// Creates the directory holding `file` (0750) unless it exists.
Result<bool> make_parent_dir(const std::string& file, const char* key);

// Raises the soft RLIMIT_NOFILE to the hard limit; warns when `connections`
// (plus a margin) cannot be reached.
void raise_descriptor_limit(int connections);

// "http://host:port/", brackets around an IPv6 host.
std::string http_url(const std::string& host, int port);

// Dispatches `base` until SIGTERM or SIGINT.
void run_until_signalled(event_base* base);

}  // namespace vytal
