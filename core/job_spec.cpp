#include "core/job_spec.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/text.h"
#include "core/utf8.h"
#include "core/yaml_fields.h"

namespace gridshift {
namespace {

const std::vector<SpecField> kContainerFields = {{"image_uri", SpecField::Kind::string},
                                                 {"command", SpecField::Kind::string_list},
                                                 {"args", SpecField::Kind::string_list},
                                                 {"env", SpecField::Kind::string_map}};
const std::vector<SpecField> kPythonFields = {{"executor_image_uri", SpecField::Kind::string},
                                              {"package_uris", SpecField::Kind::string_list},
                                              {"python_module", SpecField::Kind::string},
                                              {"args", SpecField::Kind::string_list}};
const std::vector<SpecField> kSchedulingFields = {{"strategy", SpecField::Kind::string},
                                                  {"timeout", SpecField::Kind::string}};
const std::vector<SpecField> kVertexFields = {
    {"machine_type", SpecField::Kind::string},
    {"accelerator_type", SpecField::Kind::string},
    {"accelerator_count", SpecField::Kind::integer},
    {"replica_count", SpecField::Kind::integer},
    {"container", SpecField::Kind::object, &kContainerFields},
    {"python_package", SpecField::Kind::object, &kPythonFields},
    {"service_account", SpecField::Kind::string},
    {"scheduling", SpecField::Kind::object, &kSchedulingFields},
    {"labels", SpecField::Kind::string_map}};
const std::vector<SpecField> kLocalFields = {{"command", SpecField::Kind::string_list}};
const std::vector<SpecField> kInterruptibleFields = {{"max_segments", SpecField::Kind::integer},
                                                     {"min_segment", SpecField::Kind::string},
                                                     {"resume_overhead", SpecField::Kind::string}};
const std::vector<SpecField> kAlternativeFields = {
    {"vertex", SpecField::Kind::object, &kVertexFields},
    {"local", SpecField::Kind::object, &kLocalFields},
    {"duration", SpecField::Kind::string},
    {"power_watts", SpecField::Kind::number}};
const std::vector<SpecField> kSpecFields = {
    {"name", SpecField::Kind::string},
    {"regions", SpecField::Kind::string_list},
    {"duration", SpecField::Kind::string},
    {"deadline", SpecField::Kind::string},
    {"not_before", SpecField::Kind::string},
    {"timezone", SpecField::Kind::string},
    {"policy", SpecField::Kind::string},
    {"threshold", SpecField::Kind::number},
    {"power_watts", SpecField::Kind::number},
    {"interruptible", SpecField::Kind::object, &kInterruptibleFields},
    {"vertex", SpecField::Kind::object, &kVertexFields},
    {"local", SpecField::Kind::object, &kLocalFields},
    {"alternatives", SpecField::Kind::object_list, &kAlternativeFields},
    {"max_cost_usd", SpecField::Kind::number}};

bool all_strings(const nlohmann::json& value) {
  return std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_string(); });
}

void check_kinds(const nlohmann::json& object, const std::vector<SpecField>& fields,
                 const std::string& prefix, std::vector<FieldError>& errors) {
  for (const auto& field : fields) {
    auto found = object.find(field.name);
    if (found == object.end() || found->is_null()) continue;
    const auto& v = *found;
    const std::string path = prefix + std::string(field.name);
    switch (field.kind) {
      case SpecField::Kind::string:
        if (!v.is_string()) errors.push_back({path, "expected a string"});
        break;
      case SpecField::Kind::number:
        if (!v.is_number()) errors.push_back({path, "expected a number"});
        break;
      case SpecField::Kind::integer:
        if (!v.is_number_integer()) errors.push_back({path, "expected an integer"});
        break;
      case SpecField::Kind::string_list:
        if (!v.is_array() || !all_strings(v))
          errors.push_back({path, "expected a list of strings"});
        break;
      case SpecField::Kind::string_map:
        if (!v.is_object() || !all_strings(v)) {
          errors.push_back({path, "expected an object of strings"});
        }
        break;
      case SpecField::Kind::object:
        if (!v.is_object()) {
          errors.push_back({path, "expected an object"});
        } else {
          check_kinds(v, *field.children, path + ".", errors);
        }
        break;
      case SpecField::Kind::object_list:
        if (!v.is_array()) {
          errors.push_back({path, "expected a list of objects"});
          break;
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
          const std::string item = path + "[" + std::to_string(i) + "]";
          if (!v[i].is_object()) {
            errors.push_back({item, "expected an object"});
          } else {
            check_kinds(v[i], *field.children, item + ".", errors);
          }
        }
        break;
    }
  }
}

// True when JSON text escapes a UTF-16 surrogate (\ud83d\ude00, Python's default for emoji),
// which the YAML reader rejects although it is valid JSON.
bool has_surrogate_escape(std::string_view text) {
  for (auto at = text.find("\\u"); at != std::string_view::npos; at = text.find("\\u", at + 2)) {
    if (at + 3 < text.size() && (text[at + 2] == 'd' || text[at + 2] == 'D') &&
        std::string_view("89abAB").find(text[at + 3]) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

constexpr std::size_t kMaxNameLength = 128;
// Sane upper bounds, so that a typo or an attack cannot push report totals to 1e303: 10 MW is
// beyond any one training job, 16 accelerators per machine is Vertex AI's largest machine
// type (a2-megagpu-16g) with room, and a year bounds every duration.
constexpr double kMaxPowerWatts = 10'000'000;
constexpr double kMaxThreshold = 100'000;
constexpr double kMaxCostUsd = 1'000'000'000;
constexpr std::size_t kMaxAlternatives = 8;
constexpr int kMaxAcceleratorCount = 64;
constexpr int kMaxReplicaCount = 10'000;
constexpr Seconds kMaxDuration{366LL * 24 * 3600};
// More segments than this gains nothing measurable (docs/scheduling.md) and only multiplies
// resumes; the planner's work grows with the count.
constexpr int kMaxSegments = 24;
constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxUserLabels = 63;  // Vertex AI allows 64; gridshift adds its own
constexpr std::string_view kReservedLabel = "gridshift-job";

using yaml::describe;
using yaml::index_path;
using yaml::is_env_name;
using yaml::line_of;

std::string join(const std::string& path, std::string_view key) {
  return yaml::child_path(path, key);
}

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// An IANA zone name's shape ("UTC", "Europe/London", "Etc/GMT+5"); whether it exists is for
// whoever resolves local times to know.
bool is_zone_name(std::string_view zone) {
  if (zone.empty() || zone.size() > 64 || zone.front() == '/' || zone.back() == '/' ||
      zone.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(zone.begin(), zone.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
  });
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// One key of a mapping, as handed to the field handlers.
struct Field {
  std::string key;
  std::string path;  // dotted path of the value
  YAML::Node value;
  int line = 0;  // line of the key
};

// Walks a parsed YAML document along the job spec schema, collecting every error.
class SpecParser {
 public:
  JobSpec parse_root(const YAML::Node& root) {
    JobSpec spec;
    std::optional<Field> alternatives;
    const auto seen = fields(root, "", line_of(root), kSpecFields, [&](const Field& f) {
      if (f.key == "alternatives") {
        alternatives = f;  // read last: an alternative's vertex is written over the main one
      } else {
        parse_top_field(f, spec);
      }
    });
    if (alternatives) spec.alternatives = parse_alternatives(*alternatives, root);
    if (!seen.count("name")) error("name", "required field is missing", line_of(root));
    if (!seen.count("duration")) error("duration", "required field is missing", line_of(root));
    if (spec.policy == Policy::threshold && !spec.threshold && !seen.count("threshold")) {
      error("threshold", "required when policy is threshold", line_of_field("policy"));
    }
    return spec;
  }

  void error(std::string field, std::string message, int line) {
    errors_.push_back(FieldError{std::move(field), std::move(message), line});
  }

  std::vector<FieldError>& errors() { return errors_; }
  const std::map<std::string, int>& lines() const { return lines_; }

 private:
  using Handler = std::function<void(const Field&)>;

  int line_of_field(const std::string& path) const {
    const auto it = lines_.find(path);
    return it == lines_.end() ? 0 : it->second;
  }

  // Visits each key of `map` (which must be a mapping). Null values count as absent. Returns
  // the keys that carried a value.
  std::set<std::string> fields(const YAML::Node& map, const std::string& path, int line,
                               const std::vector<SpecField>& known, const Handler& handle) {
    std::set<std::string> present;
    if (!map.IsMap()) {
      error(path, "expected a mapping, got " + describe(map), line);
      return present;
    }
    for (auto& e : yaml::entries(map, path, errors_)) {
      if (std::none_of(known.begin(), known.end(),
                       [&](const SpecField& field) { return field.name == e.key; })) {
        std::vector<std::string_view> names;
        for (const auto& field : known)
          names.push_back(field.name);
        const auto suggestion = closest(e.key, names);
        error(e.path,
              suggestion.empty() ? std::string("unknown field")
                                 : "unknown field; did you mean '" + std::string(suggestion) + "'?",
              e.key_line);
        continue;
      }
      lines_[e.path] = e.key_line;
      if (e.value.IsNull()) continue;
      present.insert(e.key);
      handle(Field{e.key, e.path, e.value, e.key_line});
    }
    return present;
  }

  std::optional<std::string> scalar_string(const YAML::Node& node, const std::string& path,
                                           int line, std::string_view what = "a string") {
    if (!node.IsScalar()) {
      error(path, "expected " + std::string(what) + ", got " + describe(node), line);
      return std::nullopt;
    }
    // The spec is stored as JSON, which cannot hold malformed UTF-8.
    if (!is_valid_utf8(node.Scalar())) {
      error(path, "is not valid UTF-8 text", line);
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<std::string> string_value(const Field& f) {
    return scalar_string(f.value, f.path, f.line);
  }

  std::optional<std::string> non_empty_string(const Field& f) {
    auto s = string_value(f);
    if (s && s->empty()) {
      error(f.path, "must not be empty", f.line);
      return std::nullopt;
    }
    return s;
  }

  // Numbers must be plain scalars: a quoted "120" is a string, as in JSON.
  std::optional<double> number_value(const Field& f) {
    if (!f.value.IsScalar() || f.value.Tag() == "!") {
      error(f.path, "expected a number, got " + describe(f.value), f.line);
      return std::nullopt;
    }
    const std::string& text = f.value.Scalar();
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(value)) {
      error(f.path, "expected a number, got \"" + text + "\"", f.line);
      return std::nullopt;
    }
    return value;
  }

  std::optional<int> int_value(const Field& f) {
    if (!f.value.IsScalar() || f.value.Tag() == "!") {
      error(f.path, "expected an integer, got " + describe(f.value), f.line);
      return std::nullopt;
    }
    const std::string& text = f.value.Scalar();
    int value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc{} && ptr == text.data() + text.size()) return value;
    if (ec == std::errc::result_out_of_range) {
      error(f.path, "integer out of range: " + text, f.line);
      return std::nullopt;
    }
    double as_double = 0;
    const auto [dptr, dec] = std::from_chars(text.data(), text.data() + text.size(), as_double);
    if (dec == std::errc{} && dptr == text.data() + text.size()) {
      error(f.path, "expected an integer, got the non-integer number " + text, f.line);
    } else {
      error(f.path, "expected an integer, got \"" + text + "\"", f.line);
    }
    return std::nullopt;
  }

  std::optional<Seconds> duration_value(const Field& f, bool positive) {
    const auto text = scalar_string(f.value, f.path, f.line, "a duration like 4h");
    if (!text) return std::nullopt;
    auto d = parse_duration(*text);
    if (!d) {
      error(f.path, d.error().message, f.line);
      return std::nullopt;
    }
    if (positive && d->count() <= 0) {
      error(f.path, "must be greater than zero", f.line);
      return std::nullopt;
    }
    if (*d > kMaxDuration) {
      error(f.path, "must be at most " + format_duration(kMaxDuration), f.line);
      return std::nullopt;
    }
    return *d;
  }

  // An instant goes to `at`; a relative form to `pending`, resolved later.
  void time_value(const Field& f, std::optional<TimePoint>& at, std::optional<SpecTime>& pending) {
    const auto text = scalar_string(f.value, f.path, f.line, "an RFC 3339 time");
    if (!text) return;
    auto t = parse_spec_time(*text);
    if (!t) {
      error(f.path, t.error().message, f.line);
    } else if (t->kind == SpecTime::Kind::absolute) {
      at = t->at;
    } else {
      pending = *t;
    }
  }

  // A list of strings; every item is checked so that all bad items are reported.
  std::optional<std::vector<std::string>> string_list(const Field& f, bool items_non_empty) {
    if (!f.value.IsSequence()) {
      error(f.path, "expected a list, got " + describe(f.value), f.line);
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    std::size_t index = 0;
    for (const auto& item : f.value) {
      const std::string path = index_path(f.path, index++);
      const auto s = scalar_string(item, path, line_of(item));
      if (!s) {
        ok = false;
      } else if (items_non_empty && s->empty()) {
        error(path, "must not be empty", line_of(item));
        ok = false;
      } else {
        out.push_back(*s);
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A mapping of string to string; `check` records an error for each bad entry.
  using EntryCheck = std::function<void(const std::string& key, const std::string& value,
                                        const std::string& path, int line)>;
  std::optional<std::map<std::string, std::string>> string_map(const Field& f,
                                                               const EntryCheck& check) {
    if (!f.value.IsMap()) {
      error(f.path, "expected a mapping, got " + describe(f.value), f.line);
      return std::nullopt;
    }
    std::map<std::string, std::string> out;
    const std::size_t errors_before = errors_.size();
    for (const auto& e : yaml::entries(f.value, f.path, errors_)) {
      const auto value = scalar_string(e.value, e.path, e.key_line);
      if (!value) continue;
      check(e.key, *value, e.path, e.key_line);
      out.emplace(e.key, *value);
    }
    if (errors_.size() != errors_before) return std::nullopt;
    return out;
  }

  void parse_top_field(const Field& f, JobSpec& spec) {
    if (f.key == "name") {
      if (auto s = string_value(f)) {
        const bool ok = !s->empty() && s->size() <= kMaxNameLength &&
                        std::all_of(s->begin(), s->end(), is_name_char);
        if (ok) {
          spec.name = *s;
        } else {
          error(f.path, "must be 1 to 128 characters of A-Z a-z 0-9 . _ -", f.line);
        }
      }
    } else if (f.key == "regions") {
      if (auto list = string_list(f, true)) {
        std::set<std::string> seen;
        bool ok = true;
        for (std::size_t i = 0; i < list->size(); ++i) {
          if (!seen.insert((*list)[i]).second) {
            error(index_path(f.path, i), "duplicate region " + (*list)[i], line_of(f.value[i]));
            ok = false;
          }
        }
        if (ok) spec.regions = std::move(*list);
      }
    } else if (f.key == "duration") {
      if (auto d = duration_value(f, true)) spec.duration = *d;
    } else if (f.key == "deadline") {
      time_value(f, spec.deadline, spec.deadline_pending);
    } else if (f.key == "not_before") {
      time_value(f, spec.not_before, spec.not_before_pending);
    } else if (f.key == "timezone") {
      if (auto zone = non_empty_string(f)) {
        if (!is_zone_name(*zone)) {
          error(f.path, "expected an IANA time zone name like Europe/London", f.line);
        } else {
          spec.timezone = *zone;
        }
      }
    } else if (f.key == "policy") {
      if (auto s = string_value(f)) {
        if (auto p = parse_policy(*s)) {
          spec.policy = *p;
        } else {
          error(f.path, "must be best_window, threshold or now", f.line);
        }
      }
    } else if (f.key == "threshold") {
      if (auto n = number_value(f)) {
        if (*n >= 0 && *n <= kMaxThreshold) {
          spec.threshold = *n;
        } else {
          error(f.path, fmt::format("must be from 0 to {} (g CO2e/kWh)", kMaxThreshold), f.line);
        }
      }
    } else if (f.key == "power_watts") {
      if (auto n = number_value(f)) {
        if (*n > 0 && *n <= kMaxPowerWatts) {
          spec.power_watts = *n;
        } else {
          error(f.path,
                fmt::format("must be greater than zero and at most {:.0f} W", kMaxPowerWatts),
                f.line);
        }
      }
    } else if (f.key == "max_cost_usd") {
      if (auto n = number_value(f)) {
        if (*n > 0 && *n <= kMaxCostUsd) {
          spec.max_cost_usd = *n;
        } else {
          error(f.path, fmt::format("must be greater than zero and at most {:.0f}", kMaxCostUsd),
                f.line);
        }
      }
    } else if (f.key == "interruptible") {
      spec.interruptible = parse_interruptible(f);
    } else if (f.key == "vertex") {
      spec.vertex = parse_vertex(f);
    } else if (f.key == "local") {
      LocalSpec local;
      const auto seen = fields(f.value, f.path, f.line, kLocalFields, [&](const Field& sub) {
        if (auto list = string_list(sub, true)) {
          if (list->empty()) {
            error(sub.path, "must not be empty", sub.line);
          } else {
            local.command = std::move(*list);
          }
        }
      });
      if (f.value.IsMap() && !seen.count("command")) {
        error(join(f.path, "command"), "required field is missing", f.line);
      }
      spec.local = std::move(local);
    }
  }

  // `alternatives:` a list of mappings, each overriding some of vertex, local, duration and
  // power_watts. An alternative's vertex keys are written over the main spec's vertex mapping
  // (a container replaces a python_package and the other way round), so that it names only
  // the hardware that differs.
  std::vector<AlternativeSpec> parse_alternatives(const Field& f, const YAML::Node& root) {
    std::vector<AlternativeSpec> out;
    if (!f.value.IsSequence()) {
      error(f.path, "expected a list, got " + describe(f.value), f.line);
      return out;
    }
    if (f.value.size() > kMaxAlternatives) {
      error(f.path, fmt::format("at most {} alternatives", kMaxAlternatives), f.line);
      return out;
    }
    const YAML::Node main_vertex = root.IsMap() ? root["vertex"] : YAML::Node{};
    std::size_t index = 0;
    for (const auto& item : f.value) {
      const std::string path = index_path(f.path, index++);
      const int line = line_of(item);
      AlternativeSpec alternative;
      const auto seen = fields(item, path, line, kAlternativeFields, [&](const Field& sub) {
        if (sub.key == "duration") {
          alternative.duration = duration_value(sub, true);
        } else if (sub.key == "power_watts") {
          JobSpec holder;
          parse_top_field(sub, holder);
          alternative.power_watts = holder.power_watts;
        } else if (sub.key == "local") {
          JobSpec holder;
          parse_top_field(sub, holder);
          alternative.local = holder.local;
        } else {
          Field merged = sub;
          merged.value = merged_vertex(main_vertex, sub.value);
          alternative.vertex = parse_vertex(merged);
        }
      });
      if (item.IsMap() && seen.empty()) {
        error(path, "an alternative sets at least one of vertex, local, duration, power_watts",
              line);
      }
      out.push_back(std::move(alternative));
    }
    return out;
  }

  static YAML::Node merged_vertex(const YAML::Node& main, const YAML::Node& overrides) {
    if (!overrides.IsMap() || !main || !main.IsMap()) return overrides;
    YAML::Node merged = YAML::Clone(main);
    if (overrides["container"]) merged.remove("python_package");
    if (overrides["python_package"]) merged.remove("container");
    for (const auto& entry : overrides) {
      merged[entry.first.Scalar()] = entry.second;
    }
    return merged;
  }

  InterruptibleSpec parse_interruptible(const Field& f) {
    InterruptibleSpec out;
    bool has_max = false;
    bool has_min = false;
    fields(f.value, f.path, f.line, kInterruptibleFields, [&](const Field& sub) {
      if (sub.key == "max_segments") {
        has_max = true;
        if (auto n = int_value(sub)) {
          if (*n >= 1 && *n <= kMaxSegments) {
            out.max_segments = *n;
          } else {
            error(sub.path, fmt::format("must be from 1 to {}", kMaxSegments), sub.line);
          }
        }
      } else if (sub.key == "min_segment") {
        has_min = true;
        if (auto d = duration_value(sub, true)) out.min_segment = *d;
      } else if (auto d = duration_value(sub, false)) {
        out.resume_overhead = *d;
      }
    });
    if (f.value.IsMap() && !has_max) {
      error(join(f.path, "max_segments"), "required field is missing", f.line);
    }
    if (f.value.IsMap() && !has_min) {
      error(join(f.path, "min_segment"), "required field is missing", f.line);
    }
    return out;
  }

  VertexSpec parse_vertex(const Field& f) {
    VertexSpec vertex;
    const auto seen = fields(f.value, f.path, f.line, kVertexFields,
                             [&](const Field& sub) { parse_vertex_field(sub, vertex); });
    if (!f.value.IsMap()) return vertex;
    const bool has_container = seen.count("container") > 0;
    const bool has_package = seen.count("python_package") > 0;
    if (has_container && has_package) {
      error(join(f.path, "python_package"), "container and python_package are mutually exclusive",
            line_of_field(join(f.path, "python_package")));
    } else if (!has_container && !has_package) {
      error(f.path, "one of container or python_package is required", f.line);
    }
    if (!vertex.accelerator_type.empty() && vertex.accelerator_count == 0 &&
        !has_error(join(f.path, "accelerator_count"))) {
      error(join(f.path, "accelerator_count"), "must be > 0 when accelerator_type is set",
            seen.count("accelerator_count") ? line_of_field(join(f.path, "accelerator_count"))
                                            : f.line);
    }
    if (vertex.accelerator_type.empty() && vertex.accelerator_count > 0 &&
        !has_error(join(f.path, "accelerator_type"))) {
      error(join(f.path, "accelerator_type"), "required when accelerator_count is set",
            line_of_field(join(f.path, "accelerator_count")));
    }
    return vertex;
  }

  bool has_error(const std::string& path) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [&](const FieldError& e) { return e.field == path; });
  }

  void parse_vertex_field(const Field& f, VertexSpec& vertex) {
    if (f.key == "machine_type") {
      if (auto s = non_empty_string(f)) vertex.machine_type = *s;
    } else if (f.key == "accelerator_type") {
      if (auto s = non_empty_string(f)) vertex.accelerator_type = *s;
    } else if (f.key == "accelerator_count") {
      if (auto n = int_value(f)) {
        if (*n >= 0 && *n <= kMaxAcceleratorCount) {
          vertex.accelerator_count = *n;
        } else {
          error(f.path, fmt::format("must be from 0 to {}", kMaxAcceleratorCount), f.line);
        }
      }
    } else if (f.key == "replica_count") {
      if (auto n = int_value(f)) {
        if (*n >= 1 && *n <= kMaxReplicaCount) {
          vertex.replica_count = *n;
        } else {
          error(f.path, fmt::format("must be from 1 to {}", kMaxReplicaCount), f.line);
        }
      }
    } else if (f.key == "container") {
      vertex.container = parse_container(f);
    } else if (f.key == "python_package") {
      vertex.python_package = parse_python_package(f);
    } else if (f.key == "service_account") {
      if (auto s = non_empty_string(f)) vertex.service_account = *s;
    } else if (f.key == "scheduling") {
      fields(f.value, f.path, f.line, kSchedulingFields, [&](const Field& sub) {
        if (sub.key == "strategy") {
          if (auto s = string_value(sub)) {
            if (auto strategy = parse_scheduling_strategy(*s)) {
              vertex.scheduling.strategy = *strategy;
            } else {
              error(sub.path, "must be STANDARD, SPOT or FLEX_START", sub.line);
            }
          }
        } else if (auto d = duration_value(sub, true)) {
          vertex.scheduling.timeout = *d;
        }
      });
    } else if (f.key == "labels") {
      auto labels = string_map(f, [&](const std::string& key, const std::string& value,
                                      const std::string& path, int line) {
        if (key.empty() || key.size() > kMaxLabelLength || key[0] < 'a' || key[0] > 'z' ||
            !std::all_of(key.begin(), key.end(), is_label_char)) {
          error(path,
                "label keys must start with a lowercase letter and hold at most 63 lowercase "
                "letters, digits, '-' or '_'",
                line);
        } else if (key == kReservedLabel) {
          error(path, "the label gridshift-job is reserved for gridshift", line);
        } else if (value.size() > kMaxLabelLength ||
                   !std::all_of(value.begin(), value.end(), is_label_char)) {
          error(path, "label values hold at most 63 lowercase letters, digits, '-' or '_'", line);
        }
      });
      if (labels) {
        if (labels->size() > kMaxUserLabels) {
          error(f.path, "at most 63 labels (one is reserved for gridshift)", f.line);
        } else {
          vertex.labels = std::move(*labels);
        }
      }
    }
  }

  ContainerSpec parse_container(const Field& f) {
    ContainerSpec container;
    const auto seen = fields(f.value, f.path, f.line, kContainerFields, [&](const Field& sub) {
      if (sub.key == "image_uri") {
        if (auto s = non_empty_string(sub)) container.image_uri = *s;
      } else if (sub.key == "command") {
        if (auto list = string_list(sub, false)) container.command = std::move(*list);
      } else if (sub.key == "args") {
        if (auto list = string_list(sub, false)) container.args = std::move(*list);
      } else if (sub.key == "env") {
        auto env = string_map(sub, [&](const std::string& key, const std::string&,
                                       const std::string& path, int line) {
          if (!is_env_name(key)) {
            error(path, "environment variable names are letters, digits and '_'", line);
          }
        });
        if (env) container.env = std::move(*env);
      }
    });
    if (f.value.IsMap() && !seen.count("image_uri")) {
      error(join(f.path, "image_uri"), "required field is missing", f.line);
    }
    return container;
  }

  PythonPackageSpec parse_python_package(const Field& f) {
    PythonPackageSpec package;
    const auto seen = fields(f.value, f.path, f.line, kPythonFields, [&](const Field& sub) {
      if (sub.key == "executor_image_uri") {
        if (auto s = non_empty_string(sub)) package.executor_image_uri = *s;
      } else if (sub.key == "package_uris") {
        if (auto list = string_list(sub, true)) {
          if (list->empty()) {
            error(sub.path, "must not be empty", sub.line);
          } else {
            package.package_uris = std::move(*list);
          }
        }
      } else if (sub.key == "python_module") {
        if (auto s = non_empty_string(sub)) package.python_module = *s;
      } else if (sub.key == "args") {
        if (auto list = string_list(sub, false)) {
          package.args = std::move(*list);
        }
      }
    });
    if (f.value.IsMap()) {
      for (const char* required : {"executor_image_uri", "package_uris", "python_module"}) {
        if (!seen.count(required))
          error(join(f.path, required), "required field is missing", f.line);
      }
    }
    return package;
  }

  std::vector<FieldError> errors_;
  std::map<std::string, int> lines_;  // field path -> line of its key
};

Error invalid_job(std::vector<FieldError> details) {
  const std::size_t n = details.size();
  return make_error("invalid_job",
                    "job spec is invalid (" + std::to_string(n) + (n == 1 ? " error)" : " errors)"),
                    std::move(details));
}

struct ParseOutcome {
  JobSpec spec;
  std::vector<FieldError> errors;
  std::map<std::string, int> lines;
};

// Notes where each document's first node starts; builds nothing.
class DocumentMarks final : public YAML::EventHandler {
 public:
  std::vector<int> first_lines;  // 1-based, one per document

  void OnDocumentStart(const YAML::Mark&) override { first_lines.push_back(0); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (!first_lines.empty() && first_lines.back() == 0) first_lines.back() = mark.line + 1;
  }
};

// The line of a second document in `text`, if it has one. Reads at most two documents:
// yaml-cpp 0.7's LoadAll never returns on some malformed streams (a lone ",": it yields empty
// documents forever, jbeder/yaml-cpp#1040), so the spec is not read with it.
std::optional<int> second_document_line(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentMarks marks;
  for (int documents = 0; documents < 2; ++documents) {
    if (!parser.HandleNextDocument(marks)) return std::nullopt;
  }
  return marks.first_lines.size() > 1 ? marks.first_lines[1] : 0;
}

ParseOutcome parse_with_lines(std::string_view text, const SpecOverrides& overrides = {}) {
  ParseOutcome out;
  const bool blank = std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  });
  if (blank) {
    out.errors.push_back(FieldError{"", "job spec is empty", 0});
    return out;
  }
  YAML::Node root;
  try {
    const std::string owned(text);
    const auto second = second_document_line(owned);
    if (second) {
      out.errors.push_back(FieldError{"", "expected one job spec document, found more", *second});
      return out;
    }
    root = YAML::Load(owned);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    out.errors.push_back(FieldError{"", "invalid YAML: " + e.msg, line});
    return out;
  }
  if (root.IsNull()) {
    out.errors.push_back(FieldError{"", "job spec is empty", 0});
    return out;
  }
  if (!root.IsMap()) {
    out.errors.push_back(
        FieldError{"", "a job spec must be a mapping, got " + describe(root), line_of(root)});
    return out;
  }
  for (const auto& [key, value] : overrides.fields)
    root[key] = value;
  if (overrides.regions) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& region : *overrides.regions)
      list.push_back(region);
    root["regions"] = list;
  }
  SpecParser parser;
  out.spec = parser.parse_root(root);
  out.errors = std::move(parser.errors());
  out.lines = parser.lines();
  return out;
}

}  // namespace

Error invalid_job_spec(std::vector<FieldError> details) {
  return invalid_job(std::move(details));
}

Result<JobSpec> parse_job_spec(std::string_view text) {
  return parse_job_spec(text, SpecOverrides{});
}

Result<JobSpec> parse_job_spec(std::string_view text, const SpecOverrides& overrides) {
  ParseOutcome out = parse_with_lines(text, overrides);
  if (!out.errors.empty()) return invalid_job(std::move(out.errors));
  return std::move(out.spec);
}

std::map<std::string, int> job_spec_lines(std::string_view text) {
  return parse_with_lines(text).lines;
}

int job_spec_field_line(const std::map<std::string, int>& lines, std::string_view field) {
  for (std::string key(field); !key.empty();) {
    if (auto it = lines.find(key); it != lines.end()) return it->second;
    // "regions[1]" has no line of its own; its list does ("vertex.x" its mapping).
    const auto cut = key.find_last_of(".[");
    if (cut == std::string::npos) break;
    key.resize(cut);
  }
  return 0;
}

namespace {

void validate_interruptible(Seconds duration, const InterruptibleSpec& rules,
                            std::vector<FieldError>& errors) {
  if (rules.resume_overhead >= rules.min_segment) {
    errors.push_back(FieldError{"interruptible.resume_overhead",
                                "resume_overhead " + format_duration(rules.resume_overhead) +
                                    " must be shorter than min_segment " +
                                    format_duration(rules.min_segment)});
    return;
  }
  if (rules.min_segment > duration) {
    errors.push_back(FieldError{"interruptible.min_segment",
                                "min_segment " + format_duration(rules.min_segment) +
                                    " is longer than the job's duration " +
                                    format_duration(duration)});
    return;
  }
  // Every segment runs at least min_segment, and every resume adds its overhead to the work:
  // k segments fit only when k x min_segment <= duration + (k - 1) x resume_overhead.
  const auto fits = [&](std::int64_t k) {
    return k * rules.min_segment.count() <=
           duration.count() + (k - 1) * rules.resume_overhead.count();
  };
  if (!fits(rules.max_segments)) {
    std::int64_t most = 1;
    while (most + 1 < rules.max_segments && fits(most + 1))
      ++most;
    errors.push_back(FieldError{
        "interruptible.max_segments",
        fmt::format("{} segments of at least {} do not fit in a {} job (with {} per resume); "
                    "at most {} do",
                    rules.max_segments, format_duration(rules.min_segment),
                    format_duration(duration), format_duration(rules.resume_overhead), most)});
  }
}

}  // namespace

std::vector<FieldError> validate_job_spec(const JobSpec& spec, const JobSpecContext& context) {
  std::vector<FieldError> errors;
  // Each alternative is checked as the spec it makes; only the errors of the fields it can set
  // are its own (the rest are the main spec's, reported once below).
  for (std::size_t i = 0; i < spec.alternatives.size(); ++i) {
    for (auto& e : validate_job_spec(with_alternative(spec, static_cast<int>(i) + 1), context)) {
      for (const std::string_view own :
           {"vertex", "local", "duration", "power_watts", "interruptible"}) {
        if (e.field.starts_with(own)) {
          e.field = index_path("alternatives", i) + "." + e.field;
          errors.push_back(std::move(e));
          break;
        }
      }
    }
  }
  if (spec.max_cost_usd && !spec.vertex) {
    errors.push_back(FieldError{"max_cost_usd",
                                "needs vertex settings: a run is priced by its machine type and "
                                "accelerators"});
  }
  if (!context.known_regions.empty()) {
    for (std::size_t i = 0; i < spec.regions.size(); ++i) {
      const auto& region = spec.regions[i];
      if (std::find(context.known_regions.begin(), context.known_regions.end(), region) ==
          context.known_regions.end()) {
        errors.push_back(FieldError{index_path("regions", i),
                                    "unknown region " + region +
                                        " (configured: " + join_list(context.known_regions) + ")"});
      }
    }
  }
  if (spec.vertex && !spec.vertex->accelerator_type.empty() && context.accelerators &&
      !context.accelerators->find(spec.vertex->accelerator_type)) {
    const std::string& type = spec.vertex->accelerator_type;
    if (!is_vertex_accelerator_type(type)) {
      errors.push_back(FieldError{"vertex.accelerator_type", "unknown accelerator type " + type});
    } else if (!spec.power_watts) {
      // Without a figure the power (and so the carbon) would be badly underestimated.
      errors.push_back(FieldError{"vertex.accelerator_type",
                                  "no power figure for " + type + "; set power_watts"});
    }
  }
  if (spec.duration.count() <= 0) {
    errors.push_back(FieldError{"duration", "must be greater than zero"});
    return errors;
  }
  if (spec.interruptible) validate_interruptible(spec.duration, *spec.interruptible, errors);
  const TimePoint deadline = spec.deadline.value_or(context.now + context.default_deadline);
  const TimePoint start = std::max(context.now, spec.not_before.value_or(context.now));
  if (spec.deadline && *spec.deadline < context.now) {
    errors.push_back(FieldError{"deadline", "deadline " + format_rfc3339(*spec.deadline) +
                                                " is in the past (now " +
                                                format_rfc3339(context.now) + ")"});
  } else if (spec.deadline && spec.not_before && *spec.deadline < *spec.not_before) {
    errors.push_back(FieldError{"deadline", "deadline is before not_before"});
  } else if (spec.duration + context.dispatch_slack > deadline - start) {
    errors.push_back(FieldError{
        "duration", "duration " + format_duration(spec.duration) + " plus dispatch slack " +
                        format_duration(context.dispatch_slack) + " does not fit between " +
                        format_rfc3339(start) + " and the deadline " + format_rfc3339(deadline)});
  }
  return errors;
}

std::vector<FieldError> resolve_spec_times(JobSpec& spec, std::optional<TimePoint> submitted,
                                           const LocalTimeResolver* local) {
  std::vector<FieldError> errors;
  const auto resolve = [&](const char* field, std::optional<TimePoint>& at,
                           std::optional<SpecTime>& pending) {
    if (!pending) return;
    if (pending->kind == SpecTime::Kind::after_submit) {
      if (!submitted) return;
      at = *submitted + pending->after;
    } else if (pending->kind == SpecTime::Kind::local_clock) {
      if (local == nullptr) {
        errors.push_back(FieldError{
            field, "'" + format_local_clock_time(pending->clock) +
                       "' is a local time, which the gridshift CLI resolves in its time zone; "
                       "the API takes RFC 3339 or +DURATION (e.g. +14h)"});
        return;
      }
      auto t = (*local)(pending->clock, spec.timezone);
      if (!t) {
        errors.push_back(FieldError{spec.timezone ? "timezone" : field, t.error().message});
        return;
      }
      at = *t;
    } else {
      at = pending->at;
    }
    pending.reset();
  };
  resolve("deadline", spec.deadline, spec.deadline_pending);
  resolve("not_before", spec.not_before, spec.not_before_pending);
  return errors;
}

Result<JobSpec> load_job_spec(std::string_view text, const JobSpecContext& context) {
  ParseOutcome out = parse_with_lines(text);
  if (!out.errors.empty()) return invalid_job(std::move(out.errors));
  std::vector<FieldError> errors = resolve_spec_times(out.spec, context.now, context.local_time);
  if (errors.empty()) errors = validate_job_spec(out.spec, context);
  if (errors.empty()) return std::move(out.spec);
  for (auto& e : errors) {
    if (const int line = job_spec_field_line(out.lines, e.field); line > 0) e.line = line;
  }
  return invalid_job(std::move(errors));
}

namespace {
nlohmann::ordered_json vertex_to_json(const VertexSpec& v);
}  // namespace

std::string job_spec_to_json(const JobSpec& spec) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["name"] = spec.name;
  if (!spec.regions.empty()) j["regions"] = spec.regions;
  j["duration"] = format_duration(spec.duration);
  if (spec.deadline) j["deadline"] = format_rfc3339(*spec.deadline);
  if (spec.deadline_pending) j["deadline"] = format_spec_time(*spec.deadline_pending);
  if (spec.not_before) j["not_before"] = format_rfc3339(*spec.not_before);
  if (spec.not_before_pending) j["not_before"] = format_spec_time(*spec.not_before_pending);
  if (spec.timezone) j["timezone"] = *spec.timezone;
  j["policy"] = std::string(to_string(spec.policy));
  if (spec.threshold) j["threshold"] = *spec.threshold;
  if (spec.power_watts) j["power_watts"] = *spec.power_watts;
  if (spec.interruptible) {
    j["interruptible"] =
        Json{{"max_segments", spec.interruptible->max_segments},
             {"min_segment", format_duration(spec.interruptible->min_segment)},
             {"resume_overhead", format_duration(spec.interruptible->resume_overhead)}};
  }
  if (spec.vertex) j["vertex"] = vertex_to_json(*spec.vertex);
  if (spec.local) j["local"] = Json{{"command", spec.local->command}};
  if (spec.max_cost_usd) j["max_cost_usd"] = *spec.max_cost_usd;
  if (!spec.alternatives.empty()) {
    Json list = Json::array();
    for (const auto& a : spec.alternatives) {
      Json aj = Json::object();
      if (a.vertex) aj["vertex"] = vertex_to_json(*a.vertex);
      if (a.local) aj["local"] = Json{{"command", a.local->command}};
      if (a.duration) aj["duration"] = format_duration(*a.duration);
      if (a.power_watts) aj["power_watts"] = *a.power_watts;
      list.push_back(std::move(aj));
    }
    j["alternatives"] = std::move(list);
  }
  return j.dump();
}

namespace {

nlohmann::ordered_json vertex_to_json(const VertexSpec& v) {
  using Json = nlohmann::ordered_json;
  {
    Json vj = Json::object();
    if (!v.machine_type.empty()) vj["machine_type"] = v.machine_type;
    if (!v.accelerator_type.empty()) vj["accelerator_type"] = v.accelerator_type;
    if (v.accelerator_count != 0) vj["accelerator_count"] = v.accelerator_count;
    vj["replica_count"] = v.replica_count;
    if (v.container) {
      Json c = Json::object();
      c["image_uri"] = v.container->image_uri;
      if (!v.container->command.empty()) c["command"] = v.container->command;
      if (!v.container->args.empty()) c["args"] = v.container->args;
      if (!v.container->env.empty()) c["env"] = v.container->env;
      vj["container"] = std::move(c);
    }
    if (v.python_package) {
      Json p = Json::object();
      p["executor_image_uri"] = v.python_package->executor_image_uri;
      p["package_uris"] = v.python_package->package_uris;
      p["python_module"] = v.python_package->python_module;
      if (!v.python_package->args.empty()) p["args"] = v.python_package->args;
      vj["python_package"] = std::move(p);
    }
    if (!v.service_account.empty()) vj["service_account"] = v.service_account;
    Json s = Json::object();
    s["strategy"] = std::string(to_string(v.scheduling.strategy));
    if (v.scheduling.timeout) s["timeout"] = format_duration(*v.scheduling.timeout);
    vj["scheduling"] = std::move(s);
    if (!v.labels.empty()) vj["labels"] = v.labels;
    return vj;
  }
}

}  // namespace

const std::vector<SpecField>& job_spec_schema() {
  return kSpecFields;
}

Result<JobSpec> load_json_job_spec(std::string_view text, const JobSpecContext& context) {
  std::vector<FieldError> errors;
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_object()) check_kinds(json, kSpecFields, "", errors);
  // The JSON parser decodes surrogate pairs into UTF-8; its re-serialization reads as YAML.
  const std::string decoded = json.is_object() && has_surrogate_escape(text) ? json.dump() : "";
  auto spec = load_job_spec(decoded.empty() ? text : std::string_view(decoded), context);
  if (errors.empty()) return spec;
  if (!spec) {
    for (const auto& e : spec.error().details) {
      const bool known = std::any_of(errors.begin(), errors.end(),
                                     [&](const FieldError& t) { return t.field == e.field; });
      if (!known) errors.push_back(e);
    }
  }
  // Counted before the call: the vector may be moved into its parameter before the message
  // argument is evaluated (the order is unspecified; GCC goes right to left).
  const std::size_t n = errors.size();
  return make_error("invalid_job",
                    fmt::format("job spec is invalid ({} error{})", n, n == 1 ? "" : "s"),
                    std::move(errors));
}

}  // namespace gridshift
