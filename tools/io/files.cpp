#include "io/files.hpp"

#include "io/tool_error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace adapool::tools {

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) fail(path.string(), ": is a directory");
  std::ifstream stream(path, std::ios::binary);
  if (!stream) fail(path.string(), ": cannot open: ", std::strerror(errno));
  std::vector<std::byte> bytes;
  char buffer[1 << 16];
  while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
    const auto* begin = reinterpret_cast<const std::byte*>(buffer);
    bytes.insert(bytes.end(), begin, begin + stream.gcount());
  }
  if (stream.bad()) fail(path.string(), ": read error");
  return bytes;
}

namespace {

// Closes the descriptor and removes the temporary file unless committed.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string name) : name_(std::move(name)) {
    descriptor_ = mkstemp(name_.data());
  }
  ~TemporaryFile() {
    if (descriptor_ >= 0) close(descriptor_);
    if (!committed_) unlink(name_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int descriptor() const { return descriptor_; }
  const std::string& name() const { return name_; }
  bool close_now() {
    const int result = close(descriptor_);
    descriptor_ = -1;
    return result == 0;
  }
  void commit() { committed_ = true; }

 private:
  std::string name_;
  int descriptor_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  const std::string target = path.string();
  std::filesystem::path directory = path.parent_path();
  if (directory.empty()) directory = ".";
  // A dot file beside the target: same file system, so rename() is atomic.
  std::string temporary_name = ".";
  temporary_name += path.filename().native();
  temporary_name += ".adapool-XXXXXX";
  TemporaryFile temporary((directory / temporary_name).string());
  if (temporary.descriptor() < 0)
    fail(target, ": cannot create a file there: ", std::strerror(errno));
  // mkstemp creates 0600; give the file the mode any new file would get.
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(temporary.descriptor(), 0666 & ~mask);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t result =
        write(temporary.descriptor(), bytes.data() + written, bytes.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result < 0) fail(target, ": write failed: ", std::strerror(errno));
    written += static_cast<size_t>(result);
  }
  if (!temporary.close_now()) fail(target, ": write failed: ", std::strerror(errno));
  if (std::rename(temporary.name().c_str(), target.c_str()) != 0) {
    fail(target, ": cannot replace: ", std::strerror(errno));
  }
  temporary.commit();
}

}  // namespace adapool::tools
