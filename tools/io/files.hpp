// Whole-file reads, and writes that never leave a half-written file: the bytes
// go to a temporary file in the target's directory, which is renamed into
// place only when complete, so an existing file survives any failure.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

namespace adapool::tools {

std::vector<std::byte> read_file(const std::filesystem::path& path);

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

}  // namespace adapool::tools
