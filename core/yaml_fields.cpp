#include "core/yaml_fields.h"

#include <algorithm>
#include <map>

namespace gridshift::yaml {

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Scalar:
      break;
  }
  if (is_quoted(node)) return "the quoted text \"" + node.Scalar() + "\"";
  return "'" + node.Scalar() + "'";
}

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!";
}

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

int Entry::value_line() const {
  return value.IsNull() ? key_line : std::max(line_of(value), key_line);
}

std::vector<Entry> entries(const YAML::Node& map, const std::string& path,
                           std::vector<FieldError>& errors) {
  std::vector<Entry> out;
  std::map<std::string, int> seen;
  for (const auto& pair : map) {
    // Copies: a yaml-cpp iterator's pair is a temporary.
    const YAML::Node key = pair.first;
    if (!key.IsScalar()) {
      errors.push_back({path, "keys must be plain words, found " + describe(key), line_of(key)});
      continue;
    }
    Entry e{key.Scalar(), child_path(path, key.Scalar()), pair.second, line_of(key)};
    auto [pos, inserted] = seen.emplace(e.key, e.key_line);
    if (!inserted) {
      errors.push_back({e.path,
                        "duplicate key (first given on line " + std::to_string(pos->second) + ")",
                        e.key_line});
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace gridshift::yaml
