// Running the built `adapool` binary from tests: a fresh directory per test,
// the command's exit code and output, and checks on the files it writes.
#pragma once

#include "io/png_codec.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace adapool::tools::testing {

struct Result {
  int exit_code = -1;
  std::string out, err;
};

// A scratch directory named after the running test, emptied on creation and
// removed afterwards; the program runs inside it.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  std::filesystem::path path(const std::string& name) const { return files_ / name; }
  void write(const std::string& name, const std::vector<std::byte>& bytes) const;
  std::vector<std::byte> read(const std::string& name) const;
  // Every file name in the directory, sorted (temporary files included).
  std::vector<std::string> listing() const;

  Result run(const std::vector<std::string>& arguments) const;

 private:
  std::filesystem::path root_, files_;
};

struct SvgSize {
  bool parsed = false;
  std::string error;  // expat's message when not parsed
  std::string root;   // name of the root element
  int width = 0, height = 0;
};

// Parses `text` as XML with expat and reads the root's width and height.
SvgSize parse_svg(const std::string& text);

}  // namespace adapool::tools::testing
