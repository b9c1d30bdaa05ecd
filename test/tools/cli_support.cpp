#include "cli_support.hpp"

#include "io/files.hpp"

#include <expat.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace adapool::tools::testing {

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string slurp(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

}  // namespace

Workspace::Workspace() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(test->test_suite_name()) + "." + test->name();
  std::replace(name.begin(), name.end(), '/', '_');
  root_ = fs::temp_directory_path() / ("adapool_cli_test_" + std::to_string(getpid())) / name;
  files_ = root_ / "files";
  fs::remove_all(root_);
  fs::create_directories(files_);
}

Workspace::~Workspace() {
  std::error_code ignored;
  fs::remove_all(root_.parent_path(), ignored);
}

void Workspace::write(const std::string& name, const std::vector<std::byte>& bytes) const {
  write_file_atomically(path(name), bytes);
}

std::vector<std::byte> Workspace::read(const std::string& name) const {
  return read_file(path(name));
}

std::vector<std::string> Workspace::listing() const {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(files_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result Workspace::run(const std::vector<std::string>& arguments) const {
  // Appended piece by piece: GCC 12 misreads `"literal" + std::string` (-Wrestrict).
  std::string command = "cd ";
  for (const std::string& piece :
       {quote(files_.string()), std::string(" && "), quote(ADAPOOL_CLI)}) {
    command += piece;
  }
  for (const std::string& argument : arguments) {
    command += ' ';
    command += quote(argument);
  }
  command += " >";
  command += quote((root_ / "stdout").string());
  command += " 2>";
  command += quote((root_ / "stderr").string());
  const int status = std::system(command.c_str());
  Result result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(root_ / "stdout");
  result.err = slurp(root_ / "stderr");
  return result;
}

SvgSize parse_svg(const std::string& text) {
  SvgSize size;
  XML_Parser parser = XML_ParserCreate("UTF-8");
  XML_SetUserData(parser, &size);
  XML_SetStartElementHandler(parser,
                             [](void* data, const XML_Char* name, const XML_Char** attributes) {
                               auto* found = static_cast<SvgSize*>(data);
                               if (!found->root.empty()) return;
                               found->root = name;
                               for (int i = 0; attributes[i]; i += 2) {
                                 if (std::strcmp(attributes[i], "width") == 0)
                                   found->width = std::atoi(attributes[i + 1]);
                                 if (std::strcmp(attributes[i], "height") == 0)
                                   found->height = std::atoi(attributes[i + 1]);
                               }
                             });
  size.parsed = XML_Parse(parser, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_OK;
  if (!size.parsed) size.error = XML_ErrorString(XML_GetErrorCode(parser));
  XML_ParserFree(parser);
  return size;
}

}  // namespace adapool::tools::testing
