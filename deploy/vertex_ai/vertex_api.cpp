#include "deploy/vertex_ai/vertex_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace gridshift {
namespace {

using nlohmann::json;

// Google's bodies are shallow; a deeper one is not a documented shape (and a recursive parse of
// it could exhaust the stack).
constexpr int kMaxDepth = 48;

Error bad(std::string_view field, std::string message) {
  auto text = fmt::format("unexpected Vertex AI response: {}: {}", field, message);
  return make_error(std::string(kVertexBadResponse), std::move(text),
                    {FieldError{std::string(field), std::move(message)}});
}

// nullopt unless `body` is a JSON object no deeper than kMaxDepth.
std::optional<json> parse_object(std::string_view body) {
  int depth = 0;
  bool too_deep = false;
  json value = json::parse(
      body.begin(), body.end(),
      [&depth, &too_deep](int, json::parse_event_t event, json&) {
        if (event == json::parse_event_t::object_start ||
            event == json::parse_event_t::array_start) {
          too_deep = too_deep || ++depth > kMaxDepth;
        } else if (event == json::parse_event_t::object_end ||
                   event == json::parse_event_t::array_end) {
          --depth;
        }
        return !too_deep;
      },
      false);
  if (too_deep || value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

Result<json> parse_body(std::string_view body) {
  auto value = parse_object(body);
  if (!value) return bad("body", "not a JSON object (or nested too deeply)");
  return std::move(*value);
}

const json* member(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_or_empty(const json& obj, std::string_view key) {
  const json* v = member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

Result<std::string> optional_string(const json& obj, std::string_view key,
                                    const std::string& field) {
  const json* v = member(obj, key);
  if (!v) return std::string();
  if (!v->is_string()) return bad(field, "expected a string");
  return v->get<std::string>();
}

// Proto3 JSON writes int64 as a string and int32 as a number; accept either for both.
Result<std::optional<std::int64_t>> optional_int(const json& obj, std::string_view key,
                                                 const std::string& field) {
  const json* v = member(obj, key);
  if (!v) return std::optional<std::int64_t>{};
  if (v->is_number_integer()) return std::optional<std::int64_t>{v->get<std::int64_t>()};
  if (v->is_string()) {
    const auto& text = v->get_ref<const std::string&>();
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc{} && end == text.data() + text.size() && !text.empty()) {
      return std::optional<std::int64_t>{out};
    }
  }
  return bad(field, "expected an integer (number or decimal string)");
}

Result<std::optional<TimePoint>> optional_time(const json& obj, std::string_view key) {
  const std::string field(key);
  auto text = optional_string(obj, key, field);
  if (!text) return text.error();
  if (text->empty()) return std::optional<TimePoint>{};
  auto t = parse_rfc3339(*text);
  if (!t) return bad(field, t.error().message);
  return std::optional<TimePoint>{*t};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

constexpr int kRpcResourceExhausted = 8;

bool says_region_unavailable(int code, std::string_view message) {
  const auto text = lower(message);
  return contains(text, "resources are insufficient") ||
         (code == kRpcResourceExhausted && (contains(text, "quota") || contains(text, "exhaust")));
}

json env_list(const std::map<std::string, std::string>& user_env, const Job& job,
              const std::string& region, const std::string& checkpoint_uri) {
  std::vector<std::pair<std::string, std::string>> ours = {{std::string(kJobIdEnv), job.id},
                                                           {std::string(kRegionEnv), region}};
  if (const int segment = current_segment(job); segment > 0) {
    ours.emplace_back("GRIDSHIFT_CHECKPOINT_DIR", checkpoint_uri);
    ours.emplace_back("GRIDSHIFT_SEGMENT", std::to_string(segment));
    ours.emplace_back("GRIDSHIFT_SEGMENT_END", format_rfc3339(job.segments.back().end));
  }
  json env = json::array();
  for (const auto& entry : user_env) {
    // (Not a structured binding: clang 14 cannot capture one in the lambda.)
    const bool taken = std::any_of(ours.begin(), ours.end(),
                                   [&](const auto& kv) { return kv.first == entry.first; });
    if (taken) continue;  // ours win
    env.push_back({{"name", entry.first}, {"value", entry.second}});
  }
  for (const auto& [name, value] : ours)
    env.push_back({{"name", name}, {"value", value}});
  return env;
}

}  // namespace

Result<json> custom_job_body(const Job& job, const std::string& region,
                             const std::string& output_uri, const std::string& checkpoint_uri) {
  if (!job.spec.vertex) {
    return make_error("invalid_job", "job " + job.id + " has no vertex section to dispatch",
                      {FieldError{"vertex", "required when dispatching to Vertex AI"}});
  }
  const VertexSpec& v = *job.spec.vertex;
  if (!v.container && !v.python_package) {
    return make_error("invalid_job", "job " + job.id + " has neither a container nor a package",
                      {FieldError{"vertex.container",
                                  "either vertex.container or vertex.python_package is required"}});
  }
  json machine{{"machineType", v.machine_type}};
  if (!v.accelerator_type.empty()) machine["acceleratorType"] = v.accelerator_type;
  if (v.accelerator_count > 0) machine["acceleratorCount"] = v.accelerator_count;

  json pool{{"machineSpec", std::move(machine)}, {"replicaCount", std::to_string(v.replica_count)}};
  if (v.container) {
    const auto& c = *v.container;
    json spec{{"imageUri", c.image_uri}};
    if (!c.command.empty()) spec["command"] = c.command;
    if (!c.args.empty()) spec["args"] = c.args;
    spec["env"] = env_list(c.env, job, region, checkpoint_uri);
    pool["containerSpec"] = std::move(spec);
  } else {
    const auto& p = *v.python_package;
    json spec{{"executorImageUri", p.executor_image_uri},
              {"packageUris", p.package_uris},
              {"pythonModule", p.python_module}};
    if (!p.args.empty()) spec["args"] = p.args;
    spec["env"] = env_list({}, job, region, checkpoint_uri);
    pool["pythonPackageSpec"] = std::move(spec);
  }

  json scheduling{{"strategy", to_string(v.scheduling.strategy)}};
  if (v.scheduling.timeout) {
    scheduling["timeout"] = std::to_string(v.scheduling.timeout->count()) + "s";
  }
  json job_spec{{"workerPoolSpecs", json::array({std::move(pool)})},
                {"scheduling", std::move(scheduling)}};
  if (!v.service_account.empty()) job_spec["serviceAccount"] = v.service_account;
  if (!output_uri.empty()) job_spec["baseOutputDirectory"] = {{"outputUriPrefix", output_uri}};

  json labels = json::object();
  for (const auto& [key, value] : v.labels)
    labels[key] = value;
  labels[std::string(kManagedByLabel)] = kManagedByValue;
  labels[std::string(kJobLabel)] = job.id;
  const int segment = current_segment(job);
  if (segment > 0) labels[std::string(kSegmentLabel)] = std::to_string(segment);

  std::string display_name = "gridshift-" + job.id + "-" + job.spec.name;
  if (segment > 0)
    display_name = fmt::format("gridshift-{}-s{}-{}", job.id, segment, job.spec.name);
  if (display_name.size() > kMaxDisplayNameChars) display_name.resize(kMaxDisplayNameChars);
  return json{{"displayName", std::move(display_name)},
              {"labels", std::move(labels)},
              {"jobSpec", std::move(job_spec)}};
}

json staging_bucket_body(const std::string& bucket, const std::string& region,
                         const std::string& job_id) {
  std::string location(region);
  for (auto& c : location)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return json{
      {"name", bucket},
      {"location", location},
      {"storageClass", "STANDARD"},
      {"labels", {{kManagedByLabel, kManagedByValue}, {kJobLabel, job_id}}},
      {"iamConfiguration",
       {{"uniformBucketLevelAccess", {{"enabled", true}}}, {"publicAccessPrevention", "enforced"}}},
      {"softDeletePolicy", {{"retentionDurationSeconds", "0"}}}};
}

std::optional<JobState> known_vertex_state(std::string_view state) {
  static constexpr std::array<std::pair<std::string_view, JobState>, 11> kStates{{
      {"JOB_STATE_QUEUED", JobState::running},
      {"JOB_STATE_PENDING", JobState::running},
      {"JOB_STATE_RUNNING", JobState::running},
      {"JOB_STATE_UPDATING", JobState::running},
      {"JOB_STATE_CANCELLING", JobState::running},
      {"JOB_STATE_PAUSED", JobState::running},
      {"JOB_STATE_SUCCEEDED", JobState::succeeded},
      {"JOB_STATE_PARTIALLY_SUCCEEDED", JobState::failed},
      {"JOB_STATE_FAILED", JobState::failed},
      {"JOB_STATE_EXPIRED", JobState::failed},
      {"JOB_STATE_CANCELLED", JobState::cancelled},
  }};
  for (const auto& [name, mapped] : kStates) {
    if (name == state) return mapped;
  }
  return std::nullopt;
}

Result<VertexJob> parse_custom_job_resource(const json& resource) {
  if (!resource.is_object()) return bad("customJob", "expected a JSON object");
  VertexJob out;
  auto name = optional_string(resource, "name", "name");
  if (!name) return name.error();
  out.name = std::move(*name);
  auto display = optional_string(resource, "displayName", "displayName");
  if (!display) return display.error();
  out.display_name = std::move(*display);
  auto state = optional_string(resource, "state", "state");
  if (!state) return state.error();
  out.state = std::move(*state);
  if (auto mapped = known_vertex_state(out.state)) {
    out.job_state = *mapped;
    out.known_state = true;
  }
  if (const json* labels = member(resource, "labels")) {
    if (!labels->is_object()) return bad("labels", "expected an object");
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) return bad("labels." + key, "expected a string");
      out.labels[key] = value.get<std::string>();
    }
  }
  for (auto [key, slot] :
       {std::pair{"createTime", &out.create_time}, std::pair{"startTime", &out.start_time},
        std::pair{"endTime", &out.end_time}}) {
    auto t = optional_time(resource, key);
    if (!t) return t.error();
    *slot = *t;
  }
  const auto created_text = string_or_empty(resource, "createTime");
  if (const auto dot = created_text.find('.'); dot != std::string::npos) {
    std::int64_t scale = 100'000'000;
    for (std::size_t i = dot + 1; i < created_text.size() && scale > 0; ++i) {
      const char c = created_text[i];
      if (c < '0' || c > '9') break;
      out.create_time_nanos += (c - '0') * scale;
      scale /= 10;
    }
  }
  if (const json* spec = member(resource, "jobSpec")) {
    const json* pools = member(*spec, "workerPoolSpecs");
    if (pools && pools->is_array() && !pools->empty()) {
      auto replicas =
          optional_int((*pools)[0], "replicaCount", "jobSpec.workerPoolSpecs[0].replicaCount");
      if (!replicas) return replicas.error();
      out.replica_count = *replicas;
    }
  }
  if (const json* error = member(resource, "error")) {
    if (!error->is_object()) return bad("error", "expected an object");
    auto code = optional_int(*error, "code", "error.code");
    if (!code) return code.error();
    if (*code) out.error_code = static_cast<int>(**code);
    auto message = optional_string(*error, "message", "error.message");
    if (!message) return message.error();
    out.error_message = std::move(*message);
  }
  out.region_unavailable = out.state == "JOB_STATE_FAILED" &&
                           says_region_unavailable(out.error_code.value_or(0), out.error_message);
  return out;
}

Result<VertexJob> parse_custom_job(std::string_view body) {
  auto value = parse_body(body);
  if (!value) return value.error();
  return parse_custom_job_resource(*value);
}

namespace {

// A list page: the array under `key` (absent when empty) and nextPageToken. Item errors name
// the item ("customJobs[1].state").
template <class Item, class ParseItem>
Result<std::pair<std::vector<Item>, std::string>> parse_page(std::string_view body,
                                                             std::string_view key,
                                                             ParseItem parse_item) {
  auto value = parse_body(body);
  if (!value) return value.error();
  std::vector<Item> items;
  if (const json* array = member(*value, key)) {
    if (!array->is_array()) return bad(key, "expected an array");
    for (std::size_t i = 0; i < array->size(); ++i) {
      Result<Item> item = parse_item((*array)[i]);
      if (!item) {
        auto error = item.error();
        for (auto& d : error.details)
          d.field = fmt::format("{}[{}].{}", key, i, d.field);
        return error;
      }
      items.push_back(std::move(*item));
    }
  }
  auto token = optional_string(*value, "nextPageToken", "nextPageToken");
  if (!token) return token.error();
  return std::pair{std::move(items), std::move(*token)};
}

Result<StorageObject> parse_storage_object(const json& item) {
  auto name = optional_string(item, "name", "name");
  if (!name) return name.error();
  if (name->empty()) return bad("name", "missing");
  auto generation = optional_int(item, "generation", "generation");
  if (!generation) return generation.error();
  return StorageObject{std::move(*name),
                       *generation ? std::to_string(**generation) : std::string()};
}

}  // namespace

Result<VertexJobPage> parse_custom_job_list(std::string_view body) {
  auto page = parse_page<VertexJob>(body, "customJobs", parse_custom_job_resource);
  if (!page) return page.error();
  return VertexJobPage{std::move(page->first), std::move(page->second)};
}

void sort_oldest_first(std::vector<VertexJob>& jobs) {
  std::stable_sort(jobs.begin(), jobs.end(), [](const VertexJob& a, const VertexJob& b) {
    if (a.create_time.has_value() != b.create_time.has_value()) return a.create_time.has_value();
    if (a.create_time != b.create_time) return *a.create_time < *b.create_time;
    if (a.create_time_nanos != b.create_time_nanos) {
      return a.create_time_nanos < b.create_time_nanos;
    }
    return a.name < b.name;
  });
}

Result<StorageObjectPage> parse_object_list(std::string_view body) {
  auto page = parse_page<StorageObject>(body, "items", parse_storage_object);
  if (!page) return page.error();
  return StorageObjectPage{std::move(page->first), std::move(page->second)};
}

std::string_view to_string(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::retry:
      return "retry";
    case ApiErrorKind::reconcile:
      return "reconcile";
    case ApiErrorKind::renew_token:
      return "renew_token";
    case ApiErrorKind::region_unavailable:
      return "region_unavailable";
    case ApiErrorKind::fatal:
      return "fatal";
    case ApiErrorKind::not_found:
      return "not_found";
    case ApiErrorKind::already_terminal:
      return "already_terminal";
    case ApiErrorKind::conflict:
      return "conflict";
    case ApiErrorKind::precondition_failed:
      return "precondition_failed";
  }
  return "fatal";
}

std::optional<std::chrono::milliseconds> parse_proto_duration(std::string_view text) {
  if (text.size() < 2 || text.back() != 's') return std::nullopt;
  text.remove_suffix(1);
  const auto dot = text.find('.');
  const auto whole = text.substr(0, dot);
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc{} || end != whole.data() + whole.size() || seconds < 0) return std::nullopt;
  std::int64_t millis = 0;
  if (dot != std::string_view::npos) {
    const auto fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 9) return std::nullopt;
    std::int64_t scale = 100;
    for (char c : fraction) {
      if (c < '0' || c > '9') return std::nullopt;
      millis += (c - '0') * scale;
      scale /= 10;
    }
  }
  if (seconds > 10LL * 365 * 86400) return std::nullopt;
  return std::chrono::milliseconds(seconds * 1000 + millis);
}

namespace {

struct ErrorBody {
  std::string status;  // google.rpc status, or the GCS reason
  std::string message;
  std::optional<std::chrono::milliseconds> retry_delay;
  std::string quota_subjects;  // QuotaFailure subjects and descriptions, for matching
};

// Both shapes: google.rpc {"error": {code, message, status, details}} and GCS
// {"error": {code, message, errors: [{reason, message}]}}.
ErrorBody read_error_body(int http_status, std::string_view body) {
  ErrorBody out;
  auto value = parse_object(body);
  const json* error = value ? member(*value, "error") : nullptr;
  if (error && error->is_object()) {
    out.message = string_or_empty(*error, "message");
    out.status = string_or_empty(*error, "status");
    if (const json* errors = member(*error, "errors");
        errors && errors->is_array() && !errors->empty()) {
      if (out.status.empty()) out.status = string_or_empty((*errors)[0], "reason");
      if (out.message.empty()) out.message = string_or_empty((*errors)[0], "message");
    }
    if (const json* details = member(*error, "details"); details && details->is_array()) {
      for (const auto& detail : *details) {
        const auto type = string_or_empty(detail, "@type");
        if (type.ends_with("google.rpc.RetryInfo")) {
          out.retry_delay = parse_proto_duration(string_or_empty(detail, "retryDelay"));
        } else if (type.ends_with("google.rpc.QuotaFailure")) {
          const json* violations = member(detail, "violations");
          if (!violations || !violations->is_array()) continue;
          for (const auto& v : *violations) {
            out.quota_subjects +=
                string_or_empty(v, "subject") + " " + string_or_empty(v, "description") + " ";
          }
        }
      }
    }
  }
  if (out.message.empty()) {
    // No JSON message: say what came back without echoing a possibly large or odd body.
    out.message = fmt::format("HTTP {}", http_status);
  }
  return out;
}

ApiError make_api_error(ApiErrorKind kind, int http_status, ErrorBody body,
                        const std::optional<std::string>& retry_after_header, TimePoint now) {
  ApiError out;
  out.kind = kind;
  out.http_status = http_status;
  out.status = std::move(body.status);
  out.message = std::move(body.message);
  if (retry_after_header) out.retry_after = parse_retry_after(*retry_after_header, now);
  if (!out.retry_after) out.retry_after = body.retry_delay;
  return out;
}

// "The following quota metrics exceed quota limits: aiplatform.googleapis.com/
// custom_model_training_nvidia_l4_gpus": a training-capacity quota, not a request rate.
bool names_training_quota(const ErrorBody& body) {
  return contains(lower(body.message + " " + body.quota_subjects), "custom_model_training");
}

// 400 INVALID_ARGUMENT saying the machine or accelerator is not offered in the location.
bool says_unsupported_here(const ErrorBody& body) {
  const auto text = lower(body.message);
  const bool refused = contains(text, "not supported") || contains(text, "unsupported") ||
                       contains(text, "not available") || contains(text, "is not offered");
  const bool what = contains(text, "accelerator") || contains(text, "machine") ||
                    contains(text, "gpu") || contains(text, "tpu");
  return refused && what;
}

}  // namespace

ApiError classify_vertex_error(ApiCall call, int http_status, std::string_view body,
                               const std::optional<std::string>& retry_after_header,
                               TimePoint now) {
  auto parsed = read_error_body(http_status, body);
  const bool create = call == ApiCall::create;
  // A create the server may have executed is never resent blindly.
  const auto transient = create ? ApiErrorKind::reconcile : ApiErrorKind::retry;
  ApiErrorKind kind = ApiErrorKind::fatal;
  if (http_status == 400) {
    if (parsed.status == "FAILED_PRECONDITION" && call == ApiCall::cancel) {
      kind = ApiErrorKind::already_terminal;
    } else if (create && parsed.status != "FAILED_PRECONDITION" && says_unsupported_here(parsed)) {
      kind = ApiErrorKind::region_unavailable;
    }
  } else if (http_status == 401) {
    kind = ApiErrorKind::renew_token;
  } else if (http_status == 404) {
    kind = ApiErrorKind::not_found;
  } else if (http_status == 408 || http_status == 409 || http_status == 499 || http_status >= 500) {
    kind = transient;
  } else if (http_status == 429) {
    kind = create && names_training_quota(parsed) ? ApiErrorKind::region_unavailable
                                                  : ApiErrorKind::retry;
  }
  return make_api_error(kind, http_status, std::move(parsed), retry_after_header, now);
}

ApiError classify_storage_error(int http_status, std::string_view body,
                                const std::optional<std::string>& retry_after_header,
                                TimePoint now) {
  auto parsed = read_error_body(http_status, body);
  ApiErrorKind kind = ApiErrorKind::fatal;
  switch (http_status) {
    case 401:
      kind = ApiErrorKind::renew_token;
      break;
    case 404:
      kind = ApiErrorKind::not_found;
      break;
    case 409:
      kind = ApiErrorKind::conflict;
      break;
    case 412:
      kind = ApiErrorKind::precondition_failed;
      break;
    case 408:
    case 429:
      kind = ApiErrorKind::retry;
      break;
    default:
      if (http_status >= 500) kind = ApiErrorKind::retry;
  }
  return make_api_error(kind, http_status, std::move(parsed), retry_after_header, now);
}

std::string job_label_filter(std::string_view job_id) {
  return fmt::format("labels.{}=\"{}\"", kJobLabel, job_id);
}

std::string region_endpoint(std::string_view endpoint_template, std::string_view region) {
  std::string out;
  constexpr std::string_view kPlaceholder = "{region}";
  std::size_t pos = 0;
  for (auto hit = endpoint_template.find(kPlaceholder); hit != std::string_view::npos;
       hit = endpoint_template.find(kPlaceholder, pos)) {
    out.append(endpoint_template.substr(pos, hit - pos));
    out.append(region);
    pos = hit + kPlaceholder.size();
  }
  out.append(endpoint_template.substr(pos));
  while (!out.empty() && out.back() == '/')
    out.pop_back();
  return out;
}

std::string custom_jobs_url(std::string_view endpoint_template, std::string_view project,
                            std::string_view region) {
  return fmt::format("{}/v1/projects/{}/locations/{}/customJobs",
                     region_endpoint(endpoint_template, region), percent_encode(project),
                     percent_encode(region));
}

std::string custom_jobs_list_url(std::string_view endpoint_template, std::string_view project,
                                 std::string_view region, std::string_view job_id,
                                 std::string_view page_token) {
  auto url =
      fmt::format("{}?filter={}&pageSize=100", custom_jobs_url(endpoint_template, project, region),
                  percent_encode(job_label_filter(job_id)));
  if (!page_token.empty()) url += "&pageToken=" + percent_encode(page_token);
  return url;
}

Result<CustomJobName> parse_custom_job_name(std::string_view name) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    const auto slash = std::min(name.find('/', pos), name.size());
    parts.push_back(name.substr(pos, slash - pos));
    pos = slash + 1;
  }
  const bool ok = parts.size() == 6 && parts[0] == "projects" && parts[2] == "locations" &&
                  parts[4] == "customJobs" &&
                  std::none_of(parts.begin(), parts.end(), [](auto p) { return p.empty(); });
  if (!ok) return bad("name", "expected projects/P/locations/L/customJobs/ID");
  return CustomJobName{std::string(parts[1]), std::string(parts[3]), std::string(parts[5])};
}

Result<std::string> custom_job_url(std::string_view endpoint_template, std::string_view name,
                                   std::string_view suffix) {
  auto parsed = parse_custom_job_name(name);
  if (!parsed) return parsed.error();
  return fmt::format("{}/v1/projects/{}/locations/{}/customJobs/{}{}",
                     region_endpoint(endpoint_template, parsed->location),
                     percent_encode(parsed->project), percent_encode(parsed->location),
                     percent_encode(parsed->id), suffix);
}

Result<std::string> staging_bucket_name(std::string_view prefix, std::string_view job_id) {
  auto clean = [](std::string_view text) {
    std::string out = lower(text);
    for (auto& c : out) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
      if (!ok) c = '-';
    }
    return out;
  };
  auto is_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::string id = clean(job_id);
  while (!id.empty() && !is_alnum(id.back()))
    id.pop_back();
  std::string head = clean(prefix);
  while (!head.empty() && !is_alnum(head.front()))
    head.erase(0, 1);
  // Keep the whole id (it is what makes the name unique); cut the prefix to fit.
  const std::size_t room = kMaxBucketNameChars - std::min(kMaxBucketNameChars, id.size() + 1);
  if (head.size() > room) head.resize(room);
  while (!head.empty() && !is_alnum(head.back()))
    head.pop_back();
  const std::string name = head.empty() ? id : head + "-" + id;
  const auto fail = [&](std::string why) -> Result<std::string> {
    return make_error(errc::kInvalidConfig, "no valid staging bucket name: " + why,
                      {FieldError{"dispatch.vertex_ai.staging_bucket.prefix", why}});
  };
  if (id.empty()) return fail("the job id gives no usable characters");
  if (name.size() < 3 || name.size() > kMaxBucketNameChars) {
    return fail(fmt::format("\"{}\" is not 3 to 63 characters long", name));
  }
  if (!is_alnum(name.front())) return fail("a bucket name must start with a letter or digit");
  if (name.starts_with("goog") || contains(name, "google") || contains(name, "g00gle")) {
    return fail(fmt::format("\"{}\" starts with \"goog\" or contains \"google\"", name));
  }
  return name;
}

std::string staging_output_uri(std::string_view bucket) {
  return fmt::format("gs://{}/{}", bucket, kStagingOutputPrefix);
}

std::string staging_checkpoint_uri(std::string_view bucket) {
  return fmt::format("gs://{}/{}", bucket, kStagingCheckpointPrefix);
}

namespace {

std::string trimmed(std::string_view endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/')
    endpoint.remove_suffix(1);
  return std::string(endpoint);
}

}  // namespace

std::string bucket_create_url(std::string_view storage_endpoint, std::string_view project) {
  return fmt::format("{}/storage/v1/b?project={}", trimmed(storage_endpoint),
                     percent_encode(project));
}

std::string bucket_url(std::string_view storage_endpoint, std::string_view bucket) {
  return fmt::format("{}/storage/v1/b/{}", trimmed(storage_endpoint), percent_encode(bucket));
}

std::string object_upload_url(std::string_view storage_endpoint, std::string_view bucket,
                              std::string_view object) {
  return fmt::format("{}/upload/storage/v1/b/{}/o?uploadType=media&name={}&ifGenerationMatch=0",
                     trimmed(storage_endpoint), percent_encode(bucket), percent_encode(object));
}

std::string object_list_url(std::string_view storage_endpoint, std::string_view bucket,
                            std::string_view page_token) {
  auto url = bucket_url(storage_endpoint, bucket) + "/o?versions=true&maxResults=1000";
  if (!page_token.empty()) url += "&pageToken=" + percent_encode(page_token);
  return url;
}

std::string object_url(std::string_view storage_endpoint, std::string_view bucket,
                       std::string_view object, std::string_view generation) {
  auto url = bucket_url(storage_endpoint, bucket) + "/o/" + percent_encode(object);
  if (!generation.empty()) url += "?generation=" + percent_encode(generation);
  return url;
}

}  // namespace gridshift
