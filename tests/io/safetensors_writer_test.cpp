// The streaming writer: what it writes reads back exactly, headers are padded
// to 8 bytes, and nothing appears under the final name before finish().
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <thread>

#include "paramdelta/error.h"
#include "paramdelta/safetensors.h"
#include "support/test_support.h"

namespace paramdelta {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

std::vector<std::byte> pattern_bytes(std::size_t n, int seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 31 + seed * 7) & 0xff);
  return out;
}

std::vector<std::byte> bytes_of(const SafetensorsFile& f, const std::string& name) {
  auto span = f.data(*f.find(name));
  return {span.begin(), span.end()};
}

std::size_t count_entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

std::uint64_t header_length_of(const fs::path& path) {
  const std::string bytes = testing::read_file(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  return n;
}

TEST(SafetensorsWriter, WhatIsWrittenReadsBackExactly) {
  ScratchDir dir;
  const std::vector<TensorSpec> specs = {{"layer.weight", DType::kBF16, {3, 5}},
                                         {"layer.bias", DType::kF32, {5}},
                                         {"ids", DType::kI64, {2}},
                                         {"mask", DType::kBool, {3}},
                                         {"empty", DType::kF16, {0}}};
  std::vector<std::vector<std::byte>> data;
  for (std::size_t i = 0; i < specs.size(); ++i)
    data.push_back(pattern_bytes(specs[i].nbytes(), static_cast<int>(i)));
  {
    SafetensorsWriter w(dir / "m.safetensors", specs, Metadata{{"format", "pt"}, {"note", "ünïcode"}});
    for (std::size_t i = 0; i < specs.size(); ++i) w.write_at(i, 0, data[i]);
    w.finish();
  }
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  ASSERT_EQ(f->tensors().size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo* t = f->find(specs[i].name);
    ASSERT_NE(t, nullptr) << specs[i].name;
    EXPECT_EQ(t->dtype, specs[i].dtype);
    EXPECT_EQ(t->shape, specs[i].shape);
    EXPECT_EQ(bytes_of(*f, specs[i].name), data[i]);
  }
  EXPECT_EQ(f->metadata(), (Metadata{{"format", "pt"}, {"note", "ünïcode"}}));
}

TEST(SafetensorsWriter, PiecesWrittenOutOfOrderFromSeveralThreadsLandInPlace) {
  ScratchDir dir;
  const std::vector<TensorSpec> specs = {{"a", DType::kF32, {1000}}, {"b", DType::kU8, {777}}};
  auto a = pattern_bytes(4000, 1), b = pattern_bytes(777, 2);
  {
    SafetensorsWriter w(dir / "m.safetensors", specs);
    std::vector<std::thread> threads;
    for (int part = 3; part >= 0; --part) {
      threads.emplace_back([&, part] {
        w.write_at(0, part * 1000, std::span(a).subspan(part * 1000, 1000));
        const std::size_t lo = part * 200, hi = std::min<std::size_t>(777, lo + 200);
        if (lo < hi) w.write_at(1, lo, std::span(b).subspan(lo, hi - lo));
      });
    }
    for (auto& t : threads) t.join();
    w.finish();
  }
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(bytes_of(*f, "a"), a);
  EXPECT_EQ(bytes_of(*f, "b"), b);
}

TEST(SafetensorsWriter, HeaderIsPaddedSoThatDataStartsOnAnEightByteBoundary) {
  ScratchDir dir;
  for (int name_length = 1; name_length <= 16; ++name_length) {
    std::string file_name = std::to_string(name_length);
    file_name += ".safetensors";
    const fs::path path = dir / file_name;
    SafetensorsWriter w(path, {{std::string(name_length, 'x'), DType::kU8, {3}}});
    w.write_at(0, 0, pattern_bytes(3, 0));
    w.finish();
    EXPECT_EQ(header_length_of(path) % 8, 0u) << name_length;
    EXPECT_EQ(SafetensorsFile::open(path)->header().data_offset() % 8, 0u);
  }
}

TEST(SafetensorsWriter, LateTensorsAndLateMetadataAreRecorded) {
  ScratchDir dir;
  auto planned = pattern_bytes(8, 1), late1 = pattern_bytes(6, 2), late2 = pattern_bytes(4, 3);
  {
    SafetensorsWriter w(dir / "m.safetensors", {{"p", DType::kF32, {2}}}, Metadata{{"a", "1"}}, 4096);
    w.write_at(0, 0, planned);
    w.append_late({"late.one", DType::kI16, {3}}, late1);
    w.append_late({"late.two", DType::kU32, {1}}, late2);
    w.set_metadata(Metadata{{"a", "2"}, {"b", "3"}});
    w.finish();
  }
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(bytes_of(*f, "p"), planned);
  EXPECT_EQ(bytes_of(*f, "late.one"), late1);
  EXPECT_EQ(bytes_of(*f, "late.two"), late2);
  EXPECT_EQ(f->metadata(), (Metadata{{"a", "2"}, {"b", "3"}}));
}

TEST(SafetensorsWriter, AHeaderOutgrowingItsReserveIsStillWrittenCorrectly) {
  ScratchDir dir;
  auto planned = pattern_bytes(16, 1);
  std::vector<std::vector<std::byte>> late;
  {
    SafetensorsWriter w(dir / "m.safetensors", {{"p", DType::kF32, {4}}}, {}, 0);
    w.write_at(0, 0, planned);
    for (int i = 0; i < 50; ++i) {
      late.push_back(pattern_bytes(static_cast<std::size_t>(i + 1), i));
      w.append_late({"late." + std::to_string(i), DType::kU8, {static_cast<std::uint64_t>(i + 1)}},
                    late.back());
    }
    w.set_metadata(Metadata{{"big", std::string(5000, 'm')}});
    w.finish();
  }
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(header_length_of(dir / "m.safetensors") % 8, 0u);
  EXPECT_EQ(bytes_of(*f, "p"), planned);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(bytes_of(*f, "late." + std::to_string(i)), late[static_cast<std::size_t>(i)]);
  EXPECT_EQ(f->metadata().at("big").size(), 5000u);
  EXPECT_EQ(count_entries(dir.path()), 1u) << "no temporary file may be left behind";
}

TEST(SafetensorsWriter, NothingExistsUnderTheFinalNameBeforeFinish) {
  ScratchDir dir;
  const fs::path final_path = dir / "m.safetensors";
  SafetensorsWriter w(final_path, {{"p", DType::kU8, {4}}});
  w.write_at(0, 0, pattern_bytes(4, 0));
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_EQ(count_entries(dir.path()), 1u) << "the data goes to one temporary file beside the destination";
  w.finish();
  EXPECT_TRUE(fs::exists(final_path));
  EXPECT_EQ(count_entries(dir.path()), 1u);
}

TEST(SafetensorsWriter, AnUnfinishedWriterRemovesItsTemporaryFile) {
  ScratchDir dir;
  {
    SafetensorsWriter w(dir / "m.safetensors", {{"p", DType::kU8, {4}}});
    w.write_at(0, 0, pattern_bytes(4, 0));
  }
  EXPECT_EQ(count_entries(dir.path()), 0u);
}

TEST(SafetensorsWriter, RefusesToPublishATensorThatWasNotCompletelyWritten) {
  ScratchDir dir;
  {
    SafetensorsWriter w(dir / "m.safetensors", {{"p", DType::kU8, {4}}, {"q", DType::kU8, {4}}});
    w.write_at(0, 0, pattern_bytes(4, 0));
    w.write_at(1, 0, pattern_bytes(2, 0));
    try {
      w.finish();
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.context().tensor, "q");
    }
  }
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
  EXPECT_EQ(count_entries(dir.path()), 0u);
}

TEST(SafetensorsWriter, RefusesWritesPastTheEndOfATensor) {
  ScratchDir dir;
  SafetensorsWriter w(dir / "m.safetensors", {{"p", DType::kU8, {4}}});
  EXPECT_THROW(w.write_at(0, 2, pattern_bytes(3, 0)), Error);
  EXPECT_THROW(w.append_late({"l", DType::kF32, {2}}, pattern_bytes(4, 0)), Error);
}

TEST(SafetensorsWriter, ReplacesAnExistingFileOnlyAtFinish) {
  ScratchDir dir;
  const fs::path path = dir / "m.safetensors";
  testing::write_file(path, "old");
  SafetensorsWriter w(path, {{"p", DType::kU8, {1}}});
  w.write_at(0, 0, pattern_bytes(1, 0));
  EXPECT_EQ(testing::read_file(path), "old");
  w.finish();
  EXPECT_EQ(SafetensorsFile::open(path)->tensors().size(), 1u);
}

TEST(SafetensorsWriter, ReportsAMissingDirectoryWithItsPath) {
  ScratchDir dir;
  try {
    SafetensorsWriter w(dir / "no" / "such" / "m.safetensors", {{"p", DType::kU8, {1}}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(e.context().file.find("no/such"), std::string::npos);
  }
}

TEST(SafetensorsHeaderRendering, PutsMetadataFirstAndRecordsOffsets) {
  const std::string header = render_safetensors_header(
      {{{"b", DType::kF16, {2}}, 0}, {{"a", DType::kF32, {1}}, 4}}, Metadata{{"k", "v"}});
  EXPECT_EQ(header.rfind(R"({"__metadata__":{"k":"v"})", 0), 0u) << header;
  EXPECT_NE(header.find(R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), std::string::npos)
      << header;
  EXPECT_NE(header.find(R"("b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]})"), std::string::npos)
      << header;
  EXPECT_EQ(render_safetensors_header({}, {}), "{}");
}

}  // namespace
}  // namespace paramdelta
