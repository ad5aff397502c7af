#include "core/segment_search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "core/planner.h"

namespace gridshift {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// A first segment that starts this little after a boundary (the scheduler wakes a moment late)
// counts its length from that boundary against min_segment: otherwise a 1 h minimum would push
// a segment planned for a clean hour into the next one.
constexpr std::int64_t kLateStartGrace = 5 * 60;
// The grid is coarsened beyond this many steps (irregular data whose boundaries share no
// useful common step): plans stay exact in cost, only fewer boundaries are tried.
constexpr std::int64_t kMaxSteps = 2048;

// How a state was reached (for reading the plan back).
enum Tag : std::uint8_t {
  kNone,
  kInit,      // off: nothing run yet (the grid's start)
  kSkip,      // off: idle over the step before
  kEnd,       // off: a segment ended here
  kContinue,  // on: the segment ran over the step before
  kEnter,     // on: a segment started min_steps back
  kHead,      // on: the first segment started at `from`, before the grid
};

// A way to finish the work: its cost, and where to read its segments back from.
struct Finish {
  double cost = kInf;
  int segments = 0;
  std::int64_t end = 0;
  int run = -1;  // 0: the grid run, 1: the head run, 2: one segment from `from` (no read-back)
  int k = 0, j = 0, u = 0;
  bool on = false;
};

// Least cost, then fewer segments, then the earlier end.
bool better(double cost, int segments, std::int64_t end, const Finish& best) {
  if (best.cost == kInf) return cost < kInf;
  const double tolerance = 1e-9 * std::max(1.0, std::abs(best.cost));
  if (cost < best.cost - tolerance) return true;
  if (cost > best.cost + tolerance) return false;
  if (segments != best.segments) return segments < best.segments;
  return end < best.end;
}

class Search {
 public:
  // `untils`: the deadlines to answer, increasing.
  Search(std::span<const std::int64_t> bounds, const SeriesIntegral& integral, std::int64_t from,
         std::span<const std::int64_t> untils, std::int64_t duration, const SegmentRules& rules)
      : untils_(untils),
        best_(untils.size()),
        integral_(integral),
        from_(from),
        duration_(duration),
        overhead_(rules.resume_overhead.count()),
        min_segment_(std::max<std::int64_t>(1, rules.min_segment.count())),
        max_segments_(std::max(1, rules.max_segments)) {
    limit_ = std::min(untils.empty() ? from : untils.back(), bounds.empty() ? from : bounds.back());
    if (bounds.empty() || from_ >= limit_) return;
    usable_ = true;
    auto first = std::lower_bound(bounds.begin(), bounds.end(), from_);
    grid_start_ = (first == bounds.end() || *first > limit_) ? limit_ : *first;
    if (first != bounds.begin() && from_ - *std::prev(first) <= kLateStartGrace) {
      late_ = from_ - *std::prev(first);
    }
    std::int64_t step = 0;
    for (auto it = first; it != bounds.end() && std::next(it) != bounds.end(); ++it) {
      if (*std::next(it) > limit_) break;
      step = std::gcd(step, *std::next(it) - *it);
    }
    const std::int64_t span = limit_ - grid_start_;
    if (step <= 0) step = std::max<std::int64_t>(1, span);
    if (span / step > kMaxSteps) {
      step *= (span / step + kMaxSteps - 1) / kMaxSteps;
      uniform_steps_ = false;
    }
    step_ = step;
    steps_ = static_cast<int>(span / step_);
    cost_.assign(static_cast<std::size_t>(steps_), 0.0);
    prefix_.assign(static_cast<std::size_t>(steps_) + 1, 0.0);
    missing_.assign(static_cast<std::size_t>(steps_) + 1, 0);
    for (int k = 0; k < steps_; ++k) {
      const auto c = integral_(at(k), at(k + 1));
      const auto i = static_cast<std::size_t>(k);
      cost_[i] = c.value_or(0.0);
      prefix_[i + 1] = prefix_[i] + cost_[i];
      missing_[i + 1] = missing_[i] + (c ? 0 : 1);
    }
    min_steps_ = static_cast<int>((min_segment_ + step_ - 1) / step_);
    max_used_ =
        static_cast<int>(std::min<std::int64_t>(steps_, (need(max_segments_) + step_ - 1) / step_));
  }

  std::vector<std::optional<SegmentSearchResult>> run() {
    std::vector<std::optional<SegmentSearchResult>> out(untils_.size());
    if (!usable_) return out;
    run_grid(0);  // segments start on the grid only
    if (from_ < grid_start_) {
      // Or the first segment starts at `from`, in the part step before the grid.
      if (auto head = integral_(from_, grid_start_)) run_head(*head);
    }
    // A way to finish by a deadline finishes by every later one.
    for (std::size_t q = 1; q < best_.size(); ++q) {
      const Finish& earlier = best_[q - 1];
      if (earlier.run >= 0 && better(earlier.cost, earlier.segments, earlier.end, best_[q])) {
        best_[q] = earlier;
      }
    }
    for (std::size_t q = 0; q < best_.size(); ++q) {
      const Finish& f = best_[q];
      if (f.run < 0) continue;
      SegmentSearchResult result;
      result.integral = f.cost;
      if (f.run == 2) {
        result.segments = {{from_, f.end}};
      } else {
        result.segments =
            read_back(runs_[static_cast<std::size_t>(f.run)], f.k, f.j, f.u, f.on, f.end);
      }
      out[q] = std::move(result);
    }
    return out;
  }

 private:
  std::int64_t need(int segments) const {
    return duration_ + static_cast<std::int64_t>(segments - 1) * overhead_;
  }
  std::int64_t at(int k) const { return grid_start_ + static_cast<std::int64_t>(k) * step_; }
  bool covered(int k0, int k1) const {
    return missing_[static_cast<std::size_t>(k1)] == missing_[static_cast<std::size_t>(k0)];
  }
  double cost(int k0, int k1) const {
    return prefix_[static_cast<std::size_t>(k1)] - prefix_[static_cast<std::size_t>(k0)];
  }
  // The integral over [at(k), end): from the step costs when the steps are uniform (each lies
  // inside one point of the series, so a part of a step costs its share), else from the series.
  std::optional<double> window(int k, std::int64_t end) const {
    if (end == at(k)) return 0.0;
    const std::int64_t length = end - at(k);
    const auto full = static_cast<int>(length / step_);
    const std::int64_t part = length % step_;
    if (!uniform_steps_ || k + full > steps_ || (part > 0 && k + full == steps_)) {
      return integral_(at(k), end);
    }
    const int last = k + full + (part > 0 ? 1 : 0);
    if (!covered(k, last)) return std::nullopt;
    double sum = cost(k, k + full);
    if (part > 0) {
      sum += cost_[static_cast<std::size_t>(k + full)] * static_cast<double>(part) /
             static_cast<double>(step_);
    }
    return sum;
  }

  // A candidate finish: it serves the deadlines at or after its end.
  void offer(const Finish& f) {
    const auto q = static_cast<std::size_t>(
        std::lower_bound(untils_.begin(), untils_.end(), f.end) - untils_.begin());
    if (q < best_.size() && better(f.cost, f.segments, f.end, best_[q])) best_[q] = f;
  }

  std::size_t index(int k, int j, int u) const {
    return (static_cast<std::size_t>(k) * static_cast<std::size_t>(max_segments_ + 1) +
            static_cast<std::size_t>(j)) *
               static_cast<std::size_t>(max_used_ + 1) +
           static_cast<std::size_t>(u);
  }

  // Starts run `run` (0 grid, 1 head): fresh costs, and tags kept for reading plans back.
  void reset(int run) {
    const std::size_t n = index(steps_, max_segments_, max_used_) + 1;
    off_.assign(n, kInf);
    on_.assign(n, kInf);
    auto& tags = runs_[static_cast<std::size_t>(run)];
    tags.off.assign(n, kNone);
    tags.on.assign(n, kNone);
    off_tag_ = tags.off.data();
    on_tag_ = tags.on.data();
    run_ = run;
  }

  static void relax(std::vector<double>& cost, std::uint8_t* tags, std::size_t i, double c,
                    Tag tag) {
    if (c < cost[i]) {
      cost[i] = c;
      tags[i] = tag;
    }
  }

  // The first segment starts at `from` and covers the head [from, grid_start) first.
  void run_head(double head) {
    const std::int64_t head_length = grid_start_ - from_;
    const std::int64_t first_minimum = min_segment_ - late_;
    // As the only segment: from `from` for the whole run time.
    if (need(1) >= first_minimum && from_ + need(1) <= limit_) {
      if (auto c = integral_(from_, from_ + need(1))) {
        offer(Finish{*c, 1, from_ + need(1), 2, 0, 0, 0, false});
      }
    }
    const auto forced = static_cast<int>(
        (std::max<std::int64_t>(0, first_minimum - head_length) + step_ - 1) / step_);
    if (forced > steps_ || forced > max_used_ || !covered(0, forced)) return;
    if (head_length + forced * step_ > need(1)) return;
    reset(1);
    relax(on_, on_tag_, index(forced, 1, forced), head + cost(0, forced), kHead);
    sweep(head_length);
  }

  void run_grid(std::int64_t used_before) {
    reset(0);
    relax(off_, off_tag_, index(0, 0, 0), 0.0, kInit);
    sweep(used_before);
  }

  // The dynamic programme over grid steps; `used_before` is run time before the grid (the
  // head). States (k, j, u): at grid point k, j segments started, u steps run on the grid.
  void sweep(std::int64_t used_before) {
    for (int k = 0; k <= steps_; ++k) {
      for (int j = 1; j <= max_segments_; ++j) {
        for (int u = 0; u <= max_used_; ++u) {
          const auto i = index(k, j, u);
          if (on_[i] < off_[i]) {
            off_[i] = on_[i];
            off_tag_[i] = kEnd;
          }
        }
      }
      for (int j = 0; j <= max_segments_; ++j) {
        for (int u = 0; u <= max_used_; ++u) {
          const auto i = index(k, j, u);
          if (off_[i] == kInf && on_[i] == kInf) continue;  // not reached
          const std::int64_t used = used_before + static_cast<std::int64_t>(u) * step_;
          // Finish by running the current segment on for what is left.
          if (j >= 1 && on_[i] < kInf && need(j) >= used) {
            const std::int64_t end = at(k) + (need(j) - used);
            if (end <= limit_) {
              if (const auto w = window(k, end))
                offer(Finish{on_[i] + *w, j, end, run_, k, j, u, true});
            }
          }
          // Finish with a last segment that starts here.
          if (j + 1 <= max_segments_ && off_[i] < kInf && need(j + 1) - used >= min_segment_) {
            const std::int64_t end = at(k) + (need(j + 1) - used);
            if (end <= limit_) {
              if (const auto w = window(k, end)) {
                offer(Finish{off_[i] + *w, j + 1, end, run_, k, j, u, false});
              }
            }
          }
          if (k == steps_) continue;
          if (off_[i] < kInf) {
            relax(off_, off_tag_, index(k + 1, j, u), off_[i], kSkip);
            const int m = min_steps_;
            if (j + 1 <= max_segments_ && k + m <= steps_ && u + m <= max_used_ &&
                used + m * step_ <= need(j + 1) && covered(k, k + m)) {
              relax(on_, on_tag_, index(k + m, j + 1, u + m), off_[i] + cost(k, k + m), kEnter);
            }
          }
          if (j >= 1 && on_[i] < kInf && u + 1 <= max_used_ && used + step_ <= need(j) &&
              covered(k, k + 1)) {
            relax(on_, on_tag_, index(k + 1, j, u + 1), on_[i] + cost(k, k + 1), kContinue);
          }
        }
      }
    }
  }

  struct Tags {
    std::vector<std::uint8_t> off, on;
  };

  std::vector<std::pair<std::int64_t, std::int64_t>> read_back(const Tags& tags, int k, int j,
                                                               int u, bool on,
                                                               std::int64_t end) const {
    std::vector<std::pair<std::int64_t, std::int64_t>> plan;
    std::int64_t segment_end = end;
    if (!on) plan.emplace_back(at(k), end);
    for (;;) {
      const auto i = index(k, j, u);
      if (!on) {
        const auto tag = tags.off[i];
        if (tag == kSkip) {
          --k;
        } else if (tag == kEnd) {
          on = true;
          segment_end = at(k);
        } else {
          break;  // kInit
        }
      } else {
        const auto tag = tags.on[i];
        if (tag == kContinue) {
          --k;
          --u;
        } else if (tag == kEnter) {
          k -= min_steps_;
          u -= min_steps_;
          --j;
          plan.emplace_back(at(k), segment_end);
          on = false;
        } else {  // kHead
          plan.emplace_back(from_, segment_end);
          break;
        }
      }
    }
    std::reverse(plan.begin(), plan.end());
    return plan;
  }

  std::span<const std::int64_t> untils_;
  std::vector<Finish>
      best_;  // per deadline: the best finish ending by it (and after the one before)
  const SeriesIntegral& integral_;
  std::int64_t from_;
  std::int64_t limit_ = 0;
  std::int64_t duration_;
  std::int64_t overhead_;
  std::int64_t min_segment_;
  int max_segments_;
  bool usable_ = false;
  std::int64_t grid_start_ = 0;
  std::int64_t late_ = 0;
  bool uniform_steps_ = true;  // every step lies inside one point of the series
  std::int64_t step_ = 1;
  int steps_ = 0;
  int min_steps_ = 1;
  int max_used_ = 0;
  std::vector<double> cost_;
  std::vector<double> prefix_;
  std::vector<int> missing_;
  std::vector<double> off_, on_;
  std::array<Tags, 2> runs_;
  std::uint8_t* off_tag_ = nullptr;
  std::uint8_t* on_tag_ = nullptr;
  int run_ = 0;
};

}  // namespace

std::vector<std::optional<SegmentSearchResult>> search_segments(
    std::span<const std::int64_t> bounds, const SeriesIntegral& integral, std::int64_t from,
    std::span<const std::int64_t> untils, std::int64_t duration, const SegmentRules& rules) {
  if (duration <= 0 || untils.empty()) {
    return std::vector<std::optional<SegmentSearchResult>>(untils.size());
  }
  return Search(bounds, integral, from, untils, duration, rules).run();
}

std::optional<SegmentSearchResult> search_segments(std::span<const std::int64_t> bounds,
                                                   const SeriesIntegral& integral,
                                                   std::int64_t from, std::int64_t until,
                                                   std::int64_t duration,
                                                   const SegmentRules& rules) {
  const std::int64_t untils[] = {until};
  return std::move(search_segments(bounds, integral, from, untils, duration, rules).front());
}

}  // namespace gridshift
