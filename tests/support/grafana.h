// Test support: checks a Grafana dashboard (packaging/grafana/) against a /metrics text.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"

namespace gridshift::testing {

// What a Grafana dashboard asks of /metrics that /metrics does not have: each metric its
// queries name (a histogram's _bucket/_sum/_count included) must be a family of `metrics`, and
// each label it selects, groups by or shows in a legend must be a label of those metrics (known
// only for metrics with samples in `metrics`: call this on a /metrics where they have some).
inline std::vector<std::string> dashboard_problems(const nlohmann::json& dashboard,
                                                   const std::string& metrics) {
  std::set<std::string> families;
  std::map<std::string, std::set<std::string>> labels;  // series name -> label names
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, std::regex(R"(# TYPE (\w+) (\w+))"))) {
      families.insert(m[1]);
      if (m[2] == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"})
          families.insert(m[1].str() + suffix);
      }
    } else if (std::regex_search(line, m, std::regex(R"(^(\w+)\{([^}]*)\})"))) {
      const std::string labels_text = m[2];
      static const std::regex kLabel(R"((\w+)=")");
      for (std::sregex_iterator it(labels_text.begin(), labels_text.end(), kLabel), end; it != end;
           ++it) {
        labels[m[1]].insert((*it)[1]);
      }
    }
  }
  std::vector<std::string> problems;
  if (!dashboard.contains("panels") || !dashboard["panels"].is_array() ||
      dashboard["panels"].empty()) {
    return {"the dashboard has no panels"};
  }
  for (const auto& panel : dashboard["panels"]) {
    const std::string title = panel.value("title", "");
    if (title.empty() || !panel.contains("gridPos"))
      problems.push_back("a panel lacks title or gridPos");
    if (!panel.contains("targets") || panel["targets"].empty()) {
      problems.push_back(title + ": no query");
      continue;
    }
    for (const auto& target : panel["targets"]) {
      const std::string expr = target.value("expr", "");
      std::set<std::string> known_labels = {"le"};
      bool any = false;
      bool sampled = false;  // labels are known only for metrics with samples here
      static const std::regex kMetric(R"(gridshift_\w+)");
      for (std::sregex_iterator it(expr.begin(), expr.end(), kMetric), end; it != end; ++it) {
        any = true;
        const std::string name = (*it)[0];
        if (!families.count(name)) problems.push_back(title + ": no metric " + name);
        if (labels.count(name)) {
          sampled = true;
          known_labels.insert(labels[name].begin(), labels[name].end());
        }
      }
      if (!any) problems.push_back(title + ": a query names no gridshift metric");
      std::string used = expr + " " + target.value("legendFormat", "");
      const std::regex label_use(R"((?:by \(([\w, ]+)\))|(?:\{(\w+)=)|(?:\{\{(\w+)\}\}))");
      for (std::sregex_iterator it(used.begin(), used.end(), label_use), end; it != end; ++it) {
        std::string names = (*it)[1].matched   ? (*it)[1].str()
                            : (*it)[2].matched ? (*it)[2].str()
                                               : (*it)[3].str();
        std::istringstream list(names);
        for (std::string label; std::getline(list, label, ',');) {
          label.erase(std::remove(label.begin(), label.end(), ' '), label.end());
          if (sampled && !label.empty() && !known_labels.count(label)) {
            problems.push_back(title + ": no label " + label + " on its metrics");
          }
        }
      }
    }
  }
  return problems;
}

inline nlohmann::json shipped_dashboard() {
  return nlohmann::json::parse(
      read_file(std::string(GRIDSHIFT_SOURCE_DIR) + "/packaging/grafana/gridshift-dashboard.json"),
      nullptr, false);
}

}  // namespace gridshift::testing
