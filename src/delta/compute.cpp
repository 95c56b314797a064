// compute: Δ = post − base, streamed tensor by tensor.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "delta/manifest.h"
#include "delta/model_files.h"
#include "delta/model_identity.h"
#include "delta/operation_support.h"
#include "delta/tensor_output.h"
#include "engine/convert.h"
#include "engine/delta_kernels.h"
#include "engine/job_runner.h"
#include "engine/tensor_hash.h"
#include "io/file_ops.h"
#include "io/quantization.h"
#include "paramdelta/checkpoint.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/operations.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

std::uint64_t hash_whole_tensor(const Checkpoint& checkpoint, const TensorRef& ref) {
  const PinnedRange pinned = checkpoint.pin(ref);
  return engine::hash_tensor(checkpoint.data(ref), dtype_size(ref.info->dtype));
}

struct ComputeItem {
  std::string name;
  TensorKind kind = TensorKind::kDelta;
  const TensorRef* post = nullptr;
  const TensorRef* base = nullptr;  // kDelta only
  DType out_dtype = DType::kF32;
  std::optional<std::uint64_t> delta_rows;
};

struct ItemState {
  std::vector<engine::ExceptionBuffer> exceptions;  // per chunk
  std::vector<std::uint64_t> post_hashes;
  std::vector<std::uint64_t> base_hashes;
};

bool same_tail(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  return a.size() == b.size() && !a.empty() && std::equal(a.begin() + 1, a.end(), b.begin() + 1);
}

std::vector<ComputeItem> plan_compute(const Checkpoint& base, const Checkpoint& post,
                                      const ComputeOptions& options, OperationSummary& summary,
                                      Manifest& manifest) {
  std::vector<ComputeItem> items;
  auto out_dtype_for = [&](DType post_dtype) {
    return options.delta_dtype ? *options.delta_dtype : lossless_delta_dtype(post_dtype);
  };
  auto tied_embedding_of = [](const Checkpoint& ckpt, const std::string& head) -> const TensorRef* {
    for (const auto& pair : tied_pairs()) {
      if (head == pair.head) {
        if (const TensorRef* e = ckpt.find(pair.embedding)) return e;
      }
    }
    return nullptr;
  };

  for (const auto& p : post.tensors()) {
    ComputeItem item;
    item.name = p.name();
    item.post = &p;
    const TensorRef* b = base.find(p.name());
    if (b == nullptr) {
      if (const TensorRef* e = tied_embedding_of(base, p.name())) {
        b = e;
        summary.notes.push_back("base ties '" + p.name() + "' to '" + e->name() +
                                "': the delta for it is computed against the embedding");
      }
    }
    const bool post_float = is_floating(p.info->dtype);
    if (!post_float) {
      item.kind = TensorKind::kCarry;
      item.out_dtype = p.info->dtype;
      const auto same_bytes = [&] {
        const PinnedRange base_pin = base.pin(*b), post_pin = post.pin(p);
        return std::equal(base.data(*b).begin(), base.data(*b).end(), post.data(p).begin());
      };
      if (b != nullptr &&
          (b->info->dtype != p.info->dtype || b->info->shape != p.info->shape || !same_bytes())) {
        summary.notes.push_back(
            "integer tensor '" + p.name() +
            "' differs between base and post; the delta keeps the post's, apply keeps the new base's");
      }
      items.push_back(item);
      continue;
    }
    if (b == nullptr) {
      item.kind = TensorKind::kFull;
      item.out_dtype = out_dtype_for(p.info->dtype);
      summary.notes.push_back("'" + p.name() + "' exists only in the post model: stored as a full value");
      items.push_back(item);
      continue;
    }
    if (!is_floating(b->info->dtype)) {
      throw Error(ErrorKind::kMismatch,
                  std::string("dtype mismatch: base is ") + std::string(dtype_name(b->info->dtype)) +
                      ", post is " + std::string(dtype_name(p.info->dtype)),
                  ErrorContext{{}, p.name(), {}}, "a delta needs floating-point tensors on both sides");
    }
    item.base = b;
    item.out_dtype = out_dtype_for(p.info->dtype);
    const auto& bs = b->info->shape;
    const auto& ps = p.info->shape;
    if (bs != ps) {
      const bool vocab = is_vocabulary_tensor(p.name()) && same_tail(bs, ps);
      if (!vocab) {
        throw Error(ErrorKind::kMismatch,
                    "shape mismatch: base " + shape_string(bs) + " vs post " + shape_string(ps),
                    ErrorContext{{}, p.name(), {}},
                    "the two models have different architectures; a delta needs identical shapes");
      }
      if (options.vocab_mismatch == VocabMismatch::kError) {
        throw Error(ErrorKind::kMismatch,
                    "vocabulary size differs: base has " + std::to_string(bs[0]) + " rows, post has " +
                        std::to_string(ps[0]),
                    ErrorContext{{}, p.name(), {}},
                    "pass " + option_ref("vocab_mismatch", "overlap") +
                        " to take the delta on the shared rows and keep the post's extra rows");
      }
      item.delta_rows = std::min(bs[0], ps[0]);
      summary.notes.push_back("'" + p.name() + "': vocabulary overlap: delta on rows [0, " +
                              std::to_string(*item.delta_rows) + ")" +
                              (ps[0] > bs[0]
                                   ? ", post-only rows [" + std::to_string(bs[0]) + ", " +
                                         std::to_string(ps[0]) + ") stored as full values"
                                   : ", rows [" + std::to_string(ps[0]) + ", " + std::to_string(bs[0]) +
                                         ") exist only in the base: apply keeps the new base's"));
    }
    items.push_back(item);
  }
  // Base tensors the post model lacks: a head the post ties to its embedding
  // gets a delta against that embedding; anything else is recorded as removed.
  for (const auto& b : base.tensors()) {
    if (post.find(b.name()) != nullptr) continue;
    bool used_as_tied = false;
    for (const auto& item : items) used_as_tied |= item.base == &b && item.name != b.name();
    if (used_as_tied) continue;
    if (const TensorRef* e = tied_embedding_of(post, b.name()); e != nullptr && is_floating(b.info->dtype)) {
      if (e->info->shape != b.info->shape) {
        throw Error(ErrorKind::kMismatch,
                    "post ties this head to '" + e->name() + "' but shapes differ: base " +
                        shape_string(b.info->shape) + " vs post " + shape_string(e->info->shape),
                    ErrorContext{{}, b.name(), {}});
      }
      ComputeItem item;
      item.name = b.name();
      item.post = e;
      item.base = &b;
      item.out_dtype = out_dtype_for(e->info->dtype);
      summary.notes.push_back("post ties '" + b.name() + "' to '" + e->name() +
                              "': the delta for it is computed from the post's embedding");
      items.push_back(item);
      continue;
    }
    manifest.removed_tensors.push_back(b.name());
    summary.notes.push_back("'" + b.name() + "' exists only in the base model: recorded as removed");
  }
  return items;
}

std::string overflow_hint() {
  return "drop " + option_ref("delta_dtype") + ": the default lossless delta stores such elements exactly";
}

// A compact delta's element that its dtype cannot hold: `what` is the value
// that overflowed, with where it came from.
[[noreturn]] void throw_overflow(const std::string& tensor, std::uint64_t index, const std::string& what,
                                 DType delta_dtype) {
  throw Error(ErrorKind::kNonFinite,
              "element " + std::to_string(index) + ": " + what + " overflows " +
                  std::string(dtype_name(delta_dtype)) + ", the delta's dtype",
              ErrorContext{{}, tensor, {}}, overflow_hint());
}

// Elements of a chunk handled in one go: the piece's post and base bytes are
// hashed and then computed on while they are still in the core's cache, so
// that each input byte comes from memory once.
constexpr std::uint64_t kPieceElements = 8192;

struct ChunkInputs {
  const std::byte* post = nullptr;
  const std::byte* base = nullptr;  // kDelta only
  std::uint64_t delta_end = 0;      // elements [0, delta_end) are deltas, the rest full post values
  bool hash_base = false;           // the base checksum is taken chunk by chunk
  engine::ExceptionBuffer* exceptions = nullptr;  // lossless deltas only
};

struct ChunkHashes {
  std::uint64_t post = 0;
  std::uint64_t base = 0;
};

// Fills `out` with elements [begin, end) of the item's output and returns the
// checksums of the chunk's post (and base) bytes.
ChunkHashes compute_chunk(const ComputeItem& it, const ChunkInputs& in, std::uint64_t begin,
                          std::uint64_t end, bool allow_non_finite, std::byte* out) {
  const DType pd = it.post->info->dtype, od = it.out_dtype;
  const std::size_t ps = dtype_size(pd), os = dtype_size(od);
  const DType bd = it.base != nullptr ? it.base->info->dtype : pd;
  const std::size_t bs = dtype_size(bd);
  engine::BlockHasher post_hash;
  std::optional<engine::BlockHasher> base_hash;
  if (in.hash_base) base_hash.emplace();
  for (std::uint64_t p = begin; p < end;) {
    const std::uint64_t q = std::min(p + kPieceElements, end);
    const std::byte* post = in.post + p * ps;
    std::byte* o = out + (p - begin) * os;
    post_hash.update({post, static_cast<std::size_t>(q - p) * ps});
    if (it.kind == TensorKind::kCarry) {
      std::copy_n(post, (q - p) * ps, o);
      p = q;
      continue;
    }
    if (base_hash) base_hash->update({in.base + p * bs, static_cast<std::size_t>(q - p) * bs});
    const std::uint64_t split = std::clamp(in.delta_end, p, q);
    if (split > p) {
      engine::NonFinite nf;
      const std::size_t m = static_cast<std::size_t>(split - p);
      // A compact delta has no exception list to carry a difference its dtype cannot hold.
      engine::NonFinite overflow;
      engine::compute_delta_block(in.base + p * bs, bd, post, pd, m, o, od, p, in.exceptions, nf,
                                  in.exceptions == nullptr ? &overflow : nullptr);
      if (nf.found && !allow_non_finite) {
        throw_non_finite(it.name, nf, p + nf.index,
                         "fix the model, or pass " + option_ref("allow_non_finite", "true") +
                             " to carry such values exactly");
      }
      if (overflow.found) {
        const std::size_t i = overflow.index;
        throw_delta_overflow(it.name, p + i,
                             engine::bits_to_f64(engine::element_bits(in.base + p * bs, bd, i), bd),
                             engine::bits_to_f64(engine::element_bits(post, pd, i), pd), od, overflow_hint());
      }
    }
    if (q > split) {
      const std::size_t m = static_cast<std::size_t>(q - split);
      const std::byte* rest = in.post + split * ps;
      std::byte* converted = out + (split - begin) * os;
      engine::convert_block(rest, pd, m, converted, od);
      if (!allow_non_finite) {
        auto nf = engine::find_non_finite(rest, pd, m, "post");
        if (nf.found)
          throw_non_finite(it.name, nf, split + nf.index,
                           "pass " + option_ref("allow_non_finite", "true") + " to carry it");
      }
      const auto overflow = engine::find_overflow(converted, od, m, rest, pd, nullptr, pd, "post");
      if (overflow.found) {
        const std::size_t i = overflow.index;
        throw_overflow(it.name, split + i,
                       "the post model's value " +
                           format_value(engine::bits_to_f64(engine::element_bits(rest, pd, i), pd)),
                       od);
      }
    }
    p = q;
  }
  return {post_hash.digest(), base_hash ? base_hash->digest() : 0};
}

std::uint64_t late_reserve_for(const std::vector<ComputeItem>& items, bool single_file) {
  // Room in the header for three exception entries per tensor, and in a single
  // file for the manifest, which is only complete at the end.
  std::uint64_t reserve = 4096;
  for (const auto& item : items) {
    reserve += 3 * (2 * item.name.size() + 160);
    if (single_file) reserve += 2 * item.name.size() + 700;
  }
  return reserve;
}

}  // namespace

OperationSummary compute_delta(const ComputeOptions& options) {
  Stopwatch clock;
  OperationSummary summary;
  summary.operation = "compute";
  summary.output = options.output.string();
  if (options.delta_dtype && !is_floating(*options.delta_dtype)) {
    throw Error(ErrorKind::kUsage, option_ref("delta_dtype") + " must be a floating-point type");
  }
  const bool single_file = is_single_file_output(options.output);
  StagedOutput staged(options.output,
                      single_file ? StagedOutput::Kind::kFile : StagedOutput::Kind::kDirectory,
                      options.run.force);

  const ResolvedLocation base_loc = resolve_location(options.base);
  const ResolvedLocation post_loc = resolve_location(options.post);
  const Checkpoint base = Checkpoint::open(base_loc.path);
  const Checkpoint post = Checkpoint::open(post_loc.path);
  refuse_quantized(base);
  refuse_quantized(post);
  const std::optional<ModelIdentity> base_identity = read_model_identity(base);
  const std::optional<ModelIdentity> post_identity = read_model_identity(post);
  const bool architecture_mismatch =
      base_identity && post_identity && architectures_differ(*base_identity, *post_identity);
  if (architecture_mismatch) {
    const std::string both = "the base (" + (base.root() / kConfigFile).string() + ") is " +
                             base_identity->describe() + ", the post model (" +
                             (post.root() / kConfigFile).string() + ") is " + post_identity->describe();
    if (!options.allow_architecture_mismatch) {
      throw Error(ErrorKind::kMismatch, "different architectures: " + both, ErrorContext{},
                  "a delta between two networks is meaningless; if they are the same network under two "
                  "names, pass " +
                      option_ref("allow_architecture_mismatch", "true"));
    }
    summary.notes.push_back("different architectures, allowed by " +
                            option_ref("allow_architecture_mismatch", "true") + ": " + both);
  }
  for (const auto& w : base.warnings()) summary.notes.push_back(w);
  for (const auto& w : post.warnings()) summary.notes.push_back(w);

  // The post model's tokenizer and chat files travel with a delta directory,
  // so that apply can produce a complete chat model without the post model.
  // Each is checked now, before any work: (name in the post model, in the delta).
  std::vector<std::pair<std::string, std::string>> carried;
  if (!single_file) {
    for (const auto& name : present_tokenizer_files(post.root())) carried.emplace_back(name, name);
    if (post.has_file(kGenerationConfigFile))
      carried.emplace_back(kGenerationConfigFile, kGenerationConfigFile);
    if (post.has_file(kConfigFile)) carried.emplace_back(kConfigFile, kPostConfigFile);
  }
  std::vector<fs::path> carried_paths;
  for (const auto& [from, to] : carried) carried_paths.push_back(post.root() / from);
  check_carried_json_files(carried_paths);

  Manifest manifest;
  manifest.tool = tool_identity();
  manifest.created = utc_timestamp();
  manifest.operation = "compute";
  manifest.lossless = !options.delta_dtype.has_value();
  manifest.encoding = manifest.lossless ? kEncodingExact : kEncodingPlain;
  manifest.checksum = engine::kTensorHashName;
  manifest.base_source = base_loc.description;
  manifest.post_source = post_loc.description;
  manifest.base_tensor_bytes = base.total_tensor_bytes();
  manifest.post_tensor_bytes = post.total_tensor_bytes();
  manifest.vocab_mismatch = options.vocab_mismatch == VocabMismatch::kOverlap ? "overlap" : "error";
  manifest.allow_non_finite = options.allow_non_finite;
  if (base_identity) manifest.base_identity = *base_identity;
  if (post_identity) manifest.post_identity = *post_identity;
  manifest.architecture_mismatch = architecture_mismatch ? "allowed" : "error";

  std::vector<ComputeItem> items = plan_compute(base, post, options, summary, manifest);

  std::vector<TensorSpec> specs;
  for (const auto& item : items) specs.push_back({item.name, item.out_dtype, item.post->info->shape});
  const Metadata metadata{{"format", "pt"}, {"paramdelta.content", "delta"}};
  TensorOutput output(staged.staging_path(), single_file, "delta", specs, options.run.max_shard_size,
                      metadata, late_reserve_for(items, single_file), manifest.lossless);

  engine::ThreadPool pool(options.run.threads);
  summary.threads = pool.size();
  std::vector<ItemState> states(items.size());
  std::vector<ManifestTensor> entries(items.size());
  std::vector<std::vector<std::byte>> scratch(static_cast<std::size_t>(pool.size()));
  std::vector<engine::Job> jobs;

  for (std::size_t k = 0; k < items.size(); ++k) {
    const ComputeItem& item = items[k];
    const TensorInfo& pinfo = *item.post->info;
    const std::size_t out_size = dtype_size(item.out_dtype);
    const std::size_t post_size = dtype_size(pinfo.dtype);
    const std::size_t base_size = item.base ? dtype_size(item.base->info->dtype) : 0;
    const bool hash_base_in_chunks = item.base && item.base->info->numel() == pinfo.numel();
    const std::uint64_t row_len =
        pinfo.shape.empty() || pinfo.shape[0] == 0 ? 1 : pinfo.numel() / pinfo.shape[0];
    const std::uint64_t delta_end =
        item.kind != TensorKind::kDelta ? 0 : (item.delta_rows ? *item.delta_rows * row_len : pinfo.numel());

    engine::Job job;
    job.elements = pinfo.numel();
    job.bytes_per_element = post_size + base_size + out_size;
    // Loop locals are captured by value: these functions run after this iteration ends.
    job.prepare = [&, k, hash_base_in_chunks](std::size_t chunks) {
      states[k].exceptions.resize(manifest.lossless && items[k].kind == TensorKind::kDelta ? chunks : 0);
      states[k].post_hashes.resize(chunks);
      states[k].base_hashes.resize(hash_base_in_chunks ? chunks : 0);
    };
    job.run_chunk = [&, k, out_size, post_size, base_size, delta_end, hash_base_in_chunks](
                        std::size_t chunk, std::uint64_t begin, std::uint64_t end, int worker) {
      const ComputeItem& it = items[k];
      auto& buf = scratch[static_cast<std::size_t>(worker)];
      buf.resize(static_cast<std::size_t>(end - begin) * out_size);
      const PinnedRange post_pin = post.pin_elements(*it.post, begin, end);
      const PinnedRange base_pin =
          it.base != nullptr ? base.pin_elements(*it.base, begin, end) : PinnedRange();
      ChunkInputs in;
      in.post = post.data(*it.post).data();
      in.base = it.base != nullptr ? base.data(*it.base).data() : nullptr;
      in.delta_end = delta_end;
      in.hash_base = hash_base_in_chunks;
      in.exceptions =
          manifest.lossless && it.kind == TensorKind::kDelta ? &states[k].exceptions[chunk] : nullptr;
      ChunkHashes hashes = compute_chunk(it, in, begin, end, options.allow_non_finite, buf.data());
      states[k].post_hashes[chunk] = hashes.post;
      if (hash_base_in_chunks) states[k].base_hashes[chunk] = hashes.base;
      output.write_at(k, begin * out_size, buf);
    };
    job.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      post.release_elements(*items[k].post, begin, end);
      if (items[k].base != nullptr) base.release_elements(*items[k].base, begin, end);
    };
    job.finalize = [&, k, hash_base_in_chunks]() {
      const ComputeItem& it = items[k];
      ManifestTensor& e = entries[k];
      e.name = it.name;
      e.kind = it.kind;
      e.dtype = it.out_dtype;
      e.shape = it.post->info->shape;
      e.post_dtype = it.post->info->dtype;
      e.post_checksum = engine::hash_to_hex(engine::combine_block_hashes(states[k].post_hashes));
      e.delta_rows = it.delta_rows;
      if (it.base != nullptr) {
        e.base_dtype = it.base->info->dtype;
        e.base_shape = it.base->info->shape;
        if (it.base->name() != it.name) e.base_tensor = it.base->name();
        e.base_checksum =
            engine::hash_to_hex(hash_base_in_chunks ? engine::combine_block_hashes(states[k].base_hashes)
                                                    : hash_whole_tensor(base, *it.base));
      }
      std::uint64_t count = 0;
      for (const auto& c : states[k].exceptions) count += c.index.size();
      e.exceptions = count;
      if (count > 0) {
        const bool narrow = it.post->info->numel() <= 0xffffffffull;
        std::vector<std::byte> index(count * (narrow ? 4 : 8));
        std::vector<std::byte> base_values, post_values;
        base_values.reserve(count * dtype_size(it.base->info->dtype));
        post_values.reserve(count * dtype_size(it.post->info->dtype));
        std::uint64_t at = 0;
        for (auto& c : states[k].exceptions) {
          for (std::uint64_t v : c.index) {
            if (narrow) {
              auto v32 = static_cast<std::uint32_t>(v);
              std::memcpy(index.data() + at * 4, &v32, 4);
            } else {
              std::memcpy(index.data() + at * 8, &v, 8);
            }
            ++at;
          }
          base_values.insert(base_values.end(), c.base.begin(), c.base.end());
          post_values.insert(post_values.end(), c.post.begin(), c.post.end());
        }
        output.append_exception_tensor(
            {exception_tensor_name(it.name, "index"), narrow ? DType::kU32 : DType::kI64, {count}}, index);
        output.append_exception_tensor(
            {exception_tensor_name(it.name, "base"), it.base->info->dtype, {count}}, base_values);
        output.append_exception_tensor(
            {exception_tensor_name(it.name, "post"), it.post->info->dtype, {count}}, post_values);
        summary.exception_elements += count;
      }
      summary.elements += it.post->info->numel();
      summary.bytes_read += it.post->info->nbytes() + (it.base ? it.base->info->nbytes() : 0);
      states[k] = ItemState{};  // free this tensor's buffers now
    };
    jobs.push_back(std::move(job));
  }

  run_operation_jobs(pool, jobs, options.run, "compute");

  manifest.tensors = std::move(entries);
  manifest.exceptions_location =
      output.wrote_exceptions() ? (single_file ? std::string("inline") : std::string(kExceptionsFileName))
                                : "";

  if (!single_file) {
    const fs::path dir = staged.staging_path();
    for (const auto& [from, to] : carried) {
      copy_file_atomically(post.root() / from, dir / to);
      manifest.files.push_back(to);
    }
    output.finish(std::nullopt);
    write_file_atomically(dir / kManifestFileName, manifest_to_json(manifest));
  } else {
    if (!present_tokenizer_files(post.root()).empty() && !post.is_single_file()) {
      summary.notes.push_back(
          "a single-file delta carries tensors only: write a directory to carry the tokenizer and chat "
          "files");
    }
    Metadata final_metadata = metadata;
    final_metadata[kManifestMetadataKey] = manifest_to_json(manifest);
    output.finish(final_metadata);
  }
  staged.commit();

  summary.tensors = items.size();
  summary.bytes_written = output.bytes_written();
  summary.encoding = manifest.encoding;
  summary.lossless = manifest.lossless;
  summary.post_bytes = post.total_tensor_bytes();
  summary.seconds = clock.seconds();
  return summary;
}

}  // namespace paramdelta
