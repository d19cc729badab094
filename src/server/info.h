// server/info.h: the INFO text, with Redis's section and field names so
// that redis-cli, Sentinel and exporters parse it unchanged. Fields lmkv
// adds are prefixed "lmkv_". Any loop thread.
#pragma once

#include <span>
#include <string>

namespace lmkv::server {

class Server;

// Renders the sections named (lower case; empty, "default", "all" and
// "everything" mean every section), CRLF-separated as Redis does.
std::string render_info(Server& server, std::span<const std::string> sections);

}  // namespace lmkv::server
