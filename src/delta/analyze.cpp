// analyze: the size of a delta and how it lines up with other vectors over the
// same elements (the base, a new base's drift from the base, a second delta),
// per tensor and over the whole model, streamed chunk by chunk like the other
// operations. Values are read as doubles: a delta's exact differences where
// it stores them, the models' elements as stored.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "delta/delta_source.h"
#include "delta/model_files.h"
#include "delta/operation_support.h"
#include "engine/convert.h"
#include "engine/tensor_hash.h"
#include "engine/vector_stats.h"
#include "io/file_ops.h"
#include "io/quantization.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"
#include "paramdelta/report.h"

namespace paramdelta {
namespace {

// Elements handled at a time inside a chunk: the inputs' doubles stay in a
// core's cache.
constexpr std::uint64_t kTile = 4096;

// The page's file: `html` itself, or analysis.html inside it when it names a
// directory (one that exists, or any path ending in '/').
std::filesystem::path html_page_path(const std::filesystem::path& html) {
  const std::string spelled = html.string();
  std::error_code ec;
  if (spelled.back() == '/' || std::filesystem::is_directory(html, ec)) {
    return without_trailing_separators(html) / "analysis.html";
  }
  return html;
}

// The three comparisons, in the order of TensorAnalysis's fields.
enum Against : std::size_t { kBase, kDrift, kOther, kAgainstCount };

VectorComparison make_comparison(const engine::PairSums& s) {
  VectorComparison c;
  c.elements = s.elements;
  c.delta_norm = std::sqrt(s.dd);
  c.norm = std::sqrt(s.vv);
  if (c.delta_norm > 0) {
    c.ratio = c.norm / c.delta_norm;
  } else {
    c.ratio = c.norm > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  }
  c.cosine = c.delta_norm > 0 && c.norm > 0 ? s.dv / (c.delta_norm * c.norm) : 0.0;
  c.opposite_signs =
      s.both_nonzero > 0 ? static_cast<double>(s.opposite_signs) / static_cast<double>(s.both_nonzero) : 0.0;
  c.skipped = s.skipped;
  return c;
}

// What one tensor of the delta is compared with.
struct Item {
  const ManifestTensor* entry = nullptr;
  const TensorRef* delta = nullptr;
  std::uint64_t elements = 0;  // the delta's elements analysed: [0, elements)
  const TensorRef* base = nullptr;
  const TensorRef* new_base = nullptr;
  const ManifestTensor* other_entry = nullptr;
  const TensorRef* other = nullptr;
  bool hash_base = false;
};

// Per-chunk partial sums of one tensor, added in chunk order at the end.
struct Partials {
  std::vector<engine::VectorSums> delta;
  std::vector<engine::PairSums> pairs[kAgainstCount];
  std::vector<std::uint64_t> base_hashes;
};

// The sums of a tensor, a block of tensors or the whole delta.
struct Accumulated {
  engine::VectorSums delta;
  engine::PairSums pairs[kAgainstCount];
  bool has[kAgainstCount] = {};

  void add(const Accumulated& other) {
    delta.add(other.delta);
    for (std::size_t a = 0; a < kAgainstCount; ++a) {
      if (!other.has[a]) continue;
      pairs[a].add(other.pairs[a]);
      has[a] = true;
    }
  }
  // The statistics, for what has a name and a set of notes already.
  void fill(TensorAnalysis& t) const {
    t.elements = delta.finite + delta.non_finite;
    t.delta_norm = std::sqrt(delta.squares);
    t.max_abs_delta = delta.max_abs;
    t.zero_elements = delta.zeros;
    t.non_finite_elements = delta.non_finite;
    std::optional<VectorComparison>* fields[kAgainstCount] = {&t.base, &t.drift, &t.other};
    for (std::size_t a = 0; a < kAgainstCount; ++a) {
      if (has[a]) *fields[a] = make_comparison(pairs[a]);
    }
  }
};

// The repeated block a tensor belongs to: the name before its first
// all-digit component and that number (("model.layers", 3) for
// "model.layers.3.mlp.up_proj.weight"); nullopt outside the blocks.
std::optional<std::pair<std::string, std::uint64_t>> block_of(const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view part(name.data() + start, end - start);
    if (!part.empty() && part.size() <= 9 &&
        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::make_pair(name.substr(0, start == 0 ? 0 : start - 1), std::stoull(std::string(part)));
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

double TensorAnalysis::relative_change() const {
  if (!base) return NAN;
  return base->norm > 0 ? base->delta_norm / base->norm : (base->delta_norm > 0 ? INFINITY : 0.0);
}

AnalyzeReport analyze_delta(const AnalyzeOptions& options) {
  Stopwatch clock;
  if (options.delta.empty())
    throw Error(ErrorKind::kUsage, "analyze needs a delta (" + option_ref("delta") + ")");
  if (!options.new_base.empty() && options.base.empty()) {
    throw Error(ErrorKind::kUsage, "a new base is compared through its drift from the old base",
                ErrorContext{},
                "give " + option_ref("base") + ", the model the delta was computed from, with " +
                    option_ref("new_base"));
  }
  // An existing page is refused before the work, not after.
  std::optional<StagedOutput> page;
  if (!options.html.empty()) {
    page.emplace(html_page_path(options.html), StagedOutput::Kind::kFile, options.run.force);
  }
  AnalyzeReport report;
  report.summary.operation = "analyze";
  const DeltaSource delta = DeltaSource::open(resolve_location(options.delta).path);
  std::optional<Checkpoint> base, new_base;
  std::optional<DeltaSource> other;
  if (!options.base.empty()) base = Checkpoint::open(resolve_location(options.base).path);
  if (!options.new_base.empty()) new_base = Checkpoint::open(resolve_location(options.new_base).path);
  if (!options.other_delta.empty()) other = DeltaSource::open(resolve_location(options.other_delta).path);
  refuse_quantized(delta.tensors(), kPostConfigFile);
  if (base) refuse_quantized(*base);
  if (new_base) refuse_quantized(*new_base);
  if (other) refuse_quantized(other->tensors(), kPostConfigFile);
  report.summary.notes = delta.notes();
  if (other)
    report.summary.notes.insert(report.summary.notes.end(), other->notes().begin(), other->notes().end());

  // Which elements of which tensors can be compared; the rest is said in notes.
  std::vector<Item> items;
  report.tensors.reserve(delta.manifest().tensors.size());
  for (const ManifestTensor& entry : delta.manifest().tensors) {
    TensorAnalysis ta;
    ta.name = entry.name;
    Item item;
    item.entry = &entry;
    item.delta = delta.tensors().find(entry.name);
    if (entry.kind != TensorKind::kDelta) {
      ta.notes.push_back(entry.kind == TensorKind::kFull
                             ? "a post-only tensor (full values): not a difference"
                             : "an integer tensor: carried, not a difference");
      report.tensors.push_back(std::move(ta));
      items.push_back(item);
      continue;
    }
    item.elements = item.delta->info->numel();  // the delta's shape is the manifest's (checked at open)
    if (entry.delta_rows && !entry.shape.empty()) {
      item.elements = *entry.delta_rows * (item.elements / entry.shape[0]);
      ta.notes.push_back("rows from " + std::to_string(*entry.delta_rows) +
                         " on are tokens the base lacks (full values): left out");
    }
    if (base) {
      const std::string& base_name = entry.base_tensor.empty() ? entry.name : entry.base_tensor;
      const TensorRef* b = base->find(base_name);
      if (b == nullptr) {
        ta.notes.push_back("not in the base: base and drift left out");
      } else if (b->info->shape != entry.base_shape || !is_floating(b->info->dtype)) {
        ta.notes.push_back("the base has " + std::string(dtype_name(b->info->dtype)) + " " +
                           shape_string(b->info->shape) + ", the delta was computed from " +
                           shape_string(entry.base_shape) + ": base and drift left out");
      } else {
        item.base = b;
        item.hash_base = !entry.base_checksum.empty();
      }
    }
    if (new_base && item.base != nullptr) {
      const TensorRef* nb = new_base->find(item.base->name());
      if (nb == nullptr) {
        ta.notes.push_back("not in the new base: drift left out");
      } else if (nb->info->shape != item.base->info->shape || !is_floating(nb->info->dtype)) {
        ta.notes.push_back("the new base has " + std::string(dtype_name(nb->info->dtype)) + " " +
                           shape_string(nb->info->shape) + ", the base " +
                           shape_string(item.base->info->shape) + ": drift left out");
      } else {
        item.new_base = nb;
      }
    }
    if (other) {
      const ManifestTensor* oe = other->manifest().find(entry.name);
      if (oe == nullptr) {
        ta.notes.push_back("not in the other delta: left out of that comparison");
      } else if (oe->kind != TensorKind::kDelta || oe->shape != entry.shape ||
                 oe->delta_rows != entry.delta_rows) {
        ta.notes.push_back("the other delta holds it as a " + tensor_kind_name(oe->kind) + " " +
                           shape_string(oe->shape) + ": left out of that comparison");
      } else {
        item.other_entry = oe;
        item.other = other->tensors().find(entry.name);
      }
    }
    report.tensors.push_back(std::move(ta));
    items.push_back(item);
  }

  engine::ThreadPool pool(options.run.threads);
  report.summary.threads = pool.size();
  std::vector<Partials> partials(items.size());
  std::vector<ExceptionList> delta_exceptions(items.size()), other_exceptions(items.size());
  // Per worker: Δ, the base, the new base's drift, the other delta.
  std::vector<std::vector<double>> scratch(static_cast<std::size_t>(pool.size()),
                                           std::vector<double>(4 * kTile));
  std::vector<Accumulated> accumulated(items.size());
  bool base_matches = true;
  std::vector<engine::Job> jobs;
  for (std::size_t k = 0; k < items.size(); ++k) {
    const Item& item = items[k];
    if (item.elements == 0) continue;
    engine::Job job;
    job.elements = item.elements;
    job.bytes_per_element = dtype_size(item.entry->dtype);
    if (item.base) job.bytes_per_element += dtype_size(item.base->info->dtype);
    if (item.new_base) job.bytes_per_element += dtype_size(item.new_base->info->dtype);
    if (item.other) job.bytes_per_element += dtype_size(item.other->info->dtype);
    job.prepare = [&, k](std::size_t chunks) {
      const Item& it = items[k];
      delta_exceptions[k] = delta.exceptions(*it.entry);
      if (it.other) other_exceptions[k] = other->exceptions(*it.other_entry);
      Partials& p = partials[k];
      p.delta.assign(chunks, {});
      for (auto& pairs : p.pairs) pairs.assign(chunks, {});
      p.base_hashes.assign(it.hash_base ? chunks : 0, 0);
    };
    job.run_chunk = [&, k](std::size_t chunk, std::uint64_t begin, std::uint64_t end, int worker) {
      const Item& it = items[k];
      Partials& p = partials[k];
      double* d = scratch[static_cast<std::size_t>(worker)].data();
      double* b = d + kTile;
      double* drift = b + kTile;
      double* o = drift + kTile;
      const PinnedRange base_pin = it.base ? base->pin_elements(*it.base, begin, end) : PinnedRange();
      const PinnedRange new_base_pin =
          it.new_base ? new_base->pin_elements(*it.new_base, begin, end) : PinnedRange();
      for (std::uint64_t t0 = begin; t0 < end; t0 += kTile) {
        const std::uint64_t t1 = std::min(end, t0 + kTile);
        const std::size_t n = static_cast<std::size_t>(t1 - t0);
        read_delta_values(delta, *it.delta, delta_exceptions[k], t0, t1, d);
        engine::accumulate_vector_sums(d, n, p.delta[chunk]);
        if (it.base) {
          const std::size_t bs = dtype_size(it.base->info->dtype);
          engine::load_as_f64(base->data(*it.base).data() + t0 * bs, it.base->info->dtype, n, b);
          engine::accumulate_pair_sums(d, b, n, p.pairs[kBase][chunk]);
        }
        if (it.new_base) {
          const std::size_t ns = dtype_size(it.new_base->info->dtype);
          engine::load_as_f64(new_base->data(*it.new_base).data() + t0 * ns, it.new_base->info->dtype, n,
                              drift);
          for (std::size_t i = 0; i < n; ++i) drift[i] -= b[i];
          engine::accumulate_pair_sums(d, drift, n, p.pairs[kDrift][chunk]);
        }
        if (it.other) {
          read_delta_values(*other, *it.other, other_exceptions[k], t0, t1, o);
          engine::accumulate_pair_sums(d, o, n, p.pairs[kOther][chunk]);
        }
      }
      if (it.hash_base) {
        const std::size_t bs = dtype_size(it.base->info->dtype);
        p.base_hashes[chunk] = engine::hash_block(
            {base->data(*it.base).data() + begin * bs, static_cast<std::size_t>(end - begin) * bs});
      }
    };
    job.release = [&, k](std::uint64_t begin, std::uint64_t end) {
      const Item& it = items[k];
      delta.tensors().release_elements(*it.delta, begin, end);
      if (it.base) base->release_elements(*it.base, begin, end);
      if (it.new_base) new_base->release_elements(*it.new_base, begin, end);
      if (it.other) other->tensors().release_elements(*it.other, begin, end);
    };
    job.finalize = [&, k]() {
      const Item& it = items[k];
      Partials& p = partials[k];
      Accumulated& acc = accumulated[k];
      for (const auto& c : p.delta) acc.delta.add(c);
      const bool present[kAgainstCount] = {it.base != nullptr, it.new_base != nullptr, it.other != nullptr};
      for (std::size_t a = 0; a < kAgainstCount; ++a) {
        if (!present[a]) continue;
        for (const auto& c : p.pairs[a]) acc.pairs[a].add(c);
        acc.has[a] = true;
      }
      acc.fill(report.tensors[k]);
      if (it.hash_base) {
        base_matches &=
            engine::hash_to_hex(engine::combine_block_hashes(p.base_hashes)) == it.entry->base_checksum;
      }
      delta.release_exceptions(*it.entry);
      if (it.other) other->release_exceptions(*it.other_entry);
      delta_exceptions[k] = {};
      other_exceptions[k] = {};
      p = Partials{};
    };
    jobs.push_back(std::move(job));
  }
  run_operation_jobs(pool, jobs, options.run, "analyze");

  // The whole delta, and its repeated blocks in block order.
  Accumulated whole;
  std::map<std::pair<std::string, std::uint64_t>, Accumulated> blocks;
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (items[k].elements == 0) continue;
    whole.add(accumulated[k]);
    if (auto block = block_of(items[k].entry->name)) blocks[*block].add(accumulated[k]);
  }
  report.total.name = "total";
  whole.fill(report.total);
  // The map's order: by stem, then by number (0, 1, …, 10 rather than the names' 0, 1, 10, 2).
  for (const auto& [key, acc] : blocks) {
    TensorAnalysis block;
    block.name =
        key.first.empty() ? std::to_string(key.second) : key.first + "." + std::to_string(key.second);
    acc.fill(block);
    report.blocks.push_back(std::move(block));
  }
  bool base_hashed = false;
  for (const auto& it : items) base_hashed |= it.hash_base;
  if (base && base_hashed) report.base_matches_manifest = base_matches;

  std::uint64_t analysed = 0;
  for (const auto& t : report.tensors) {
    analysed += t.elements > 0;
    for (const auto& note : t.notes) report.summary.notes.push_back("'" + t.name + "': " + note);
  }
  if (report.total.non_finite_elements > 0) {
    report.summary.notes.push_back(std::to_string(report.total.non_finite_elements) +
                                   " elements of the delta are NaN or infinite: left out of every sum");
  }
  if (base && !base_matches) {
    report.summary.notes.push_back("the base is not the one the delta was computed from (checksums differ)");
  }
  report.summary.tensors = analysed;
  report.summary.elements = report.total.elements;
  report.summary.bytes_read = delta.tensors().total_tensor_bytes();
  if (base) report.summary.bytes_read += base->total_tensor_bytes();
  if (new_base) report.summary.bytes_read += new_base->total_tensor_bytes();
  if (other) report.summary.bytes_read += other->tensors().total_tensor_bytes();
  if (page) {
    const std::string html = render_analysis_html(report, options);
    write_file_atomically(page->staging_path(), html);
    page->commit();
    report.summary.output = page->destination().string();
    report.summary.bytes_written = html.size();
  }
  report.summary.seconds = clock.seconds();
  return report;
}

}  // namespace paramdelta
