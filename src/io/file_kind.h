// Recognising what a path or a file is when it is not what paramdelta reads,
// so that the error can say what it is and what to do: URLs of remote
// storage, and weight files in other formats (PyTorch pickles, GGUF), or not
// weights at all (a Git LFS pointer, a saved web page, an empty file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace paramdelta {

// The scheme of a URL ("s3" for "s3://bucket/key"), or empty for a local path.
std::string_view url_scheme(std::string_view spec);

// Throws paramdelta::Error naming `spec` when it is a URL: remote storage is
// not supported yet. `output` chooses the hint (download first, or upload after).
void refuse_url(std::string_view spec, bool output);

// Throws paramdelta::Error (kInvalidInput) naming `label` when the file's
// first bytes (`head`, of a file of `size` bytes) show a format that is not
// safetensors, or the file is empty; returns when they show none it knows.
void refuse_foreign_weights(std::span<const std::byte> head, std::uint64_t size, const std::string& label);

// Throws paramdelta::Error (kInvalidInput) naming `dir`, which holds no
// safetensors weights, when it holds weights in another format (PyTorch:
// *model*.bin, *.pt, *.pth; GGUF: *.gguf), naming the first; returns otherwise.
void refuse_foreign_weight_directory(const std::filesystem::path& dir);

}  // namespace paramdelta
