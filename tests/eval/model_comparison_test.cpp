// compare_models: every model scored on every evaluation (a metric on its
// data file), the reference first, each score also as a percentage of the
// reference's.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

#include "eval_test_models.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "tokenizer_test_support.h"

namespace paramdelta {
namespace {

using testing::ScratchDir;

class CompareModels : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto config = testing::tiny_llama_config();
    const auto tokenizer =
        testing::tokenizer_doc(testing::bpe_model({"a", "b", "c", "d", "e", " ", "x", "y"}, {})).dump();
    for (unsigned seed : {1u, 2u}) {
      const auto model = dir_ / ("model" + std::to_string(seed));
      testing::write_tiny_model(model, config, testing::tiny_llama_tensors(config, seed));
      testing::write_file(model / "tokenizer.json", tokenizer);
    }
    testing::write_file(dir_ / "text.txt", "abc de abc ed cab bead dab");
    testing::write_file(dir_ / "tasks.jsonl",
                        "{\"prompt\": \"ab\", \"choices\": [\"c\", \"d\"], \"label\": 0}\n"
                        "{\"prompt\": \"ba\", \"choices\": [\"x\", \"y\", \"e\"], \"label\": 2}\n"
                        "{\"prompt\": \"abc\", \"answer\": \"d\"}\n");
    options_.models = {path("model1"), path("model2")};
    options_.evaluations = {{Metric::kPerplexity, path("text.txt")},
                            {Metric::kAccuracy, path("tasks.jsonl")}};
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  ScratchDir dir_;
  ComparisonOptions options_;
};

TEST_F(CompareModels, EveryModelIsScoredOnEveryEvaluationInOrder) {
  const ModelComparison c = compare_models(options_);
  ASSERT_EQ(c.evaluations.size(), 2u);
  EXPECT_EQ(c.reference, path("model1"));
  for (const EvaluationScores& e : c.evaluations) {
    ASSERT_EQ(e.models.size(), 2u);
    EXPECT_EQ(e.models[0].model, path("model1"));
    EXPECT_TRUE(e.models[0].reference);
    EXPECT_EQ(e.models[1].model, path("model2"));
    EXPECT_FALSE(e.models[1].reference);
  }
  EXPECT_EQ(c.evaluations[0].evaluation.metric, Metric::kPerplexity);
  EXPECT_EQ(c.evaluations[0].evaluation.data, path("text.txt"));
  EXPECT_TRUE(c.evaluations[0].models[1].perplexity && !c.evaluations[0].models[1].accuracy);
  EXPECT_EQ(c.evaluations[1].evaluation.metric, Metric::kAccuracy);
  EXPECT_TRUE(c.evaluations[1].models[1].accuracy && !c.evaluations[1].models[1].perplexity);
  EXPECT_EQ(c.evaluations[1].models[1].accuracy->total, 3u);
}

TEST_F(CompareModels, TheReferenceComesFirstAndScoresOneHundredPercent) {
  options_.reference = path("model2");
  options_.models.push_back(path("model2"));  // named again among the models: evaluated once
  const ModelComparison c = compare_models(options_);
  const std::vector<ModelScore>& rows = c.evaluations[0].models;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].model, path("model2"));
  EXPECT_TRUE(rows[0].reference);
  EXPECT_DOUBLE_EQ(*rows[0].percent_of_reference, 100.0);
  EXPECT_DOUBLE_EQ(*rows[1].percent_of_reference,
                   100.0 * rows[1].perplexity->perplexity / rows[0].perplexity->perplexity);
}

TEST_F(CompareModels, APercentageOfAZeroReferenceScoreIsUnknown) {
  testing::write_file(dir_ / "tasks.jsonl", "{\"prompt\": \"ab\", \"answer\": \"no such answer\"}\n");
  const ModelComparison c = compare_models(options_);
  EXPECT_EQ(c.evaluations[1].models[0].accuracy->correct, 0u);
  EXPECT_FALSE(c.evaluations[1].models[0].percent_of_reference);
  EXPECT_FALSE(c.evaluations[1].models[1].percent_of_reference);
}

TEST_F(CompareModels, EveryDataFileIsCheckedBeforeAnyModelIsLoaded) {
  testing::write_file(dir_ / "empty.txt", "");
  options_.models = {path("no-such-model")};
  options_.evaluations.push_back({Metric::kPerplexity, path("empty.txt")});
  std::size_t loads = 0;
  ComparisonProgress progress;
  progress.model_started = [&](std::size_t, std::size_t, const std::string&) { ++loads; };
  try {
    compare_models(options_, progress);
    FAIL() << "an empty text file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().file, path("empty.txt"));
  }
  EXPECT_EQ(loads, 0u);
}

TEST_F(CompareModels, IgnoredTaskFieldsAreReportedAsANote) {
  testing::write_file(dir_ / "tasks.jsonl", "{\"prompt\": \"ab\", \"answer\": \"c\", \"sytem\": \"x\"}\n");
  std::vector<std::string> notes;
  ComparisonProgress progress;
  progress.note = [&](const std::string& note) { notes.push_back(note); };
  compare_models(options_, progress);
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes[0], path("tasks.jsonl") + ": ignoring fields 'sytem'");
}

TEST_F(CompareModels, JsonOfOneEvaluationIsItsRecordAndOfSeveralAList) {
  const ModelComparison both = compare_models(options_);
  const nlohmann::json several = nlohmann::json::parse(to_json(both));
  ASSERT_EQ(several["evaluations"].size(), 2u);
  EXPECT_EQ(several["reference"], path("model1"));
  EXPECT_EQ(several["evaluations"][0]["metric"], "perplexity");
  EXPECT_EQ(several["evaluations"][1]["metric"], "accuracy");

  options_.evaluations.resize(1);
  const nlohmann::json one = nlohmann::json::parse(to_json(compare_models(options_)));
  EXPECT_EQ(one, several["evaluations"][0]);
  EXPECT_EQ(one["data"], path("text.txt"));
  EXPECT_EQ(one["reference"], path("model1"));
  EXPECT_EQ(one["models"][1]["model"], path("model2"));
  EXPECT_DOUBLE_EQ(one["models"][0]["percent_of_reference"].get<double>(), 100.0);
}

TEST_F(CompareModels, StepsCountWindowsAndTasksOfEachModelsEvaluation) {
  options_.perplexity.context = 4;  // several windows
  options_.perplexity.stride = 2;
  std::vector<std::string> started;
  std::vector<std::pair<std::size_t, std::size_t>> steps;
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> per_evaluation;
  ComparisonProgress progress;
  progress.evaluation_started = [&](std::size_t index, std::size_t count, const Evaluation& e) {
    started.push_back(std::to_string(index) + "/" + std::to_string(count) + " " + metric_name(e.metric));
    per_evaluation.emplace_back();
  };
  progress.step = [&](std::size_t done, std::size_t total) {
    per_evaluation.back().emplace_back(done, total);
  };
  const ModelComparison c = compare_models(options_, progress);
  EXPECT_EQ(started,
            (std::vector<std::string>{"1/2 perplexity", "2/2 accuracy", "1/2 perplexity", "2/2 accuracy"}));
  ASSERT_EQ(per_evaluation.size(), 4u);
  const std::size_t windows = c.evaluations[0].models[0].perplexity->windows;
  ASSERT_GT(windows, 1u);
  for (std::size_t i : {0u, 2u}) {
    ASSERT_EQ(per_evaluation[i].size(), windows);
    for (std::size_t w = 0; w < windows; ++w) EXPECT_EQ(per_evaluation[i][w], std::make_pair(w + 1, windows));
  }
  for (std::size_t i : {1u, 3u}) {
    ASSERT_FALSE(per_evaluation[i].empty());
    EXPECT_EQ(per_evaluation[i].back(), std::make_pair(std::size_t{3}, std::size_t{3}));
  }
}

TEST_F(CompareModels, ACancelFlagStopsAtTheNextStep) {
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  std::size_t models_started = 0;
  ComparisonProgress progress;
  progress.model_started = [&](std::size_t, std::size_t, const std::string&) { ++models_started; };
  progress.step = [&](std::size_t, std::size_t) { cancel = true; };  // as a Ctrl-C during the first window
  try {
    compare_models(options_, progress);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  EXPECT_EQ(models_started, 1u);
  // Set before the start, nothing is loaded.
  models_started = 0;
  EXPECT_THROW(compare_models(options_, progress), Error);
  EXPECT_EQ(models_started, 0u);
}

TEST_F(CompareModels, ACancelFlagStopsGenerationBetweenDecodingSteps) {
  const Model model = Model::load(path("model1"));
  const Tokenizer tokenizer = Tokenizer::from_model_dir(path("model1"));
  const std::vector<Task> tasks = parse_tasks_jsonl("{\"prompt\": \"abc\", \"answer\": \"d\"}\n", "tasks");
  AccuracyOptions options;
  options.stop_strings = {};
  options.max_new_tokens = 8;
  EXPECT_EQ(evaluate_accuracy(model, tokenizer, tasks, options).total, 1u);
  std::atomic<bool> cancel{true};  // as a Ctrl-C while the prompt ran
  options.cancel = &cancel;
  try {
    evaluate_accuracy(model, tokenizer, tasks, options);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
}

TEST(MetricNames, RoundTrip) {
  EXPECT_EQ(metric_name(Metric::kPerplexity), "perplexity");
  EXPECT_EQ(metric_name(Metric::kAccuracy), "accuracy");
  EXPECT_EQ(metric_from_name("accuracy"), Metric::kAccuracy);
  EXPECT_EQ(metric_from_name("perplexity"), Metric::kPerplexity);
  EXPECT_FALSE(metric_from_name("bleu"));
}

}  // namespace
}  // namespace paramdelta
