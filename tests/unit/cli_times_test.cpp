// Times people write: RFC 3339, +DURATION from submission, and local clock times (HH:MM,
// today/tomorrow HH:MM) resolved by the CLI in a zone; a bare 0 as a duration; "did you mean"
// for spec fields; the pieces of the CLI's output (colour, local times in messages, the HTML
// report).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/format.h"
#include "cli/html_report.h"
#include "cli/local_time.h"
#include "core/job_spec.h"
#include "core/text.h"
#include "core/time.h"

namespace gridshift {
namespace {

TimePoint utc(const char* text) {
  return *parse_rfc3339(text);
}

TEST(SpecTimes, EachFormIsRecognised) {
  auto t = parse_spec_time("+14h");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, SpecTime::Kind::after_submit);
  EXPECT_EQ(t->after, std::chrono::hours(14));
  t = parse_spec_time("tomorrow 08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, SpecTime::Kind::local_clock);
  EXPECT_EQ(t->clock, (LocalClockTime{LocalClockTime::Day::tomorrow, 8, 0}));
  t = parse_spec_time("7:05");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->clock, (LocalClockTime{LocalClockTime::Day::next, 7, 5}));
  t = parse_spec_time("2026-11-27T08:00:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->at, utc("2026-11-27T07:00:00Z"));
  for (const char* bad : {"24:00", "tomorrow 8", "08:60", "+", "+4x", "yesterday 08:00", "1h"}) {
    auto e = parse_spec_time(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("+DURATION"), std::string::npos) << bad;
  }
  EXPECT_EQ(format_spec_time(*parse_spec_time("today 23:59")), "today 23:59");
  EXPECT_EQ(format_spec_time(*parse_spec_time("+90m")), "+1h30m");
}

TEST(SpecTimes, ABareZeroIsADuration) {
  EXPECT_EQ(*parse_duration("0"), Seconds{0});
  EXPECT_FALSE(parse_duration("00x"));
}

TEST(SpecTimes, LocalClockTimesResolveInTheGivenZone) {
  // 2026-07-01 19:30 in London is 18:30 UTC (BST).
  const TimePoint now = utc("2026-07-01T18:30:00Z");
  const std::optional<std::string> london = "Europe/London";
  EXPECT_EQ(*resolve_local_clock_time({LocalClockTime::Day::tomorrow, 8, 0}, london, now),
            utc("2026-07-02T07:00:00Z"));
  EXPECT_EQ(*resolve_local_clock_time({LocalClockTime::Day::today, 23, 0}, london, now),
            utc("2026-07-01T22:00:00Z"));
  // A bare HH:MM already past today is tomorrow's.
  EXPECT_EQ(*resolve_local_clock_time({LocalClockTime::Day::next, 8, 0}, london, now),
            utc("2026-07-02T07:00:00Z"));
  EXPECT_EQ(*resolve_local_clock_time({LocalClockTime::Day::next, 21, 0}, london, now),
            utc("2026-07-01T20:00:00Z"));
  // In Tokyo (UTC+9) it is already 03:30 on the 2nd.
  EXPECT_EQ(*resolve_local_clock_time({LocalClockTime::Day::tomorrow, 8, 0},
                                      std::string("Asia/Tokyo"), now),
            utc("2026-07-02T23:00:00Z"));
  // 01:30 on 2026-03-29 does not exist in London (clocks go from 01:00 to 02:00).
  auto skipped = resolve_local_clock_time({LocalClockTime::Day::tomorrow, 1, 30}, london,
                                          utc("2026-03-28T12:00:00Z"));
  ASSERT_FALSE(skipped);
  EXPECT_NE(skipped.error().message.find("DST"), std::string::npos);
  auto unknown = resolve_local_clock_time({}, std::string("Mars/Olympus"), now);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("Mars/Olympus"), std::string::npos);
}

TEST(SpecTimes, TheDaemonCountsOffsetsFromSubmissionAndRefusesLocalTimes) {
  JobSpecContext context;
  context.now = utc("2026-12-02T18:00:00Z");
  auto spec = load_json_job_spec(R"({"name": "a", "duration": "2h", "deadline": "+14h",
                                     "not_before": "+1h"})",
                                 context);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->deadline, utc("2026-12-03T08:00:00Z"));
  EXPECT_EQ(spec->not_before, utc("2026-12-02T19:00:00Z"));
  EXPECT_FALSE(spec->deadline_pending);

  auto local =
      load_json_job_spec(R"({"name": "a", "duration": "2h", "deadline": "08:00"})", context);
  ASSERT_FALSE(local);
  ASSERT_EQ(local.error().details.size(), 1u);
  EXPECT_EQ(local.error().details[0].field, "deadline");
  EXPECT_NE(local.error().details[0].message.find("the gridshift CLI resolves"), std::string::npos);

  // With a resolver (the CLI's), the spec's own zone decides.
  const LocalTimeResolver resolver = local_time_resolver(context.now);
  context.local_time = &resolver;
  auto zoned = load_job_spec(
      "name: a\nduration: 2h\ndeadline: tomorrow 08:00\n"
      "timezone: America/New_York\n",
      context);
  ASSERT_TRUE(zoned) << zoned.error().message;
  EXPECT_EQ(zoned->deadline, utc("2026-12-03T13:00:00Z"));  // 08:00 EST
  auto bad_zone =
      load_job_spec("name: a\nduration: 2h\ndeadline: 08:00\ntimezone: ../etc\n", context);
  ASSERT_FALSE(bad_zone);
  EXPECT_EQ(bad_zone.error().details[0].field, "timezone");
  EXPECT_EQ(bad_zone.error().details[0].line, 4);
}

TEST(SpecTimes, RelativeFormsSurviveTheCanonicalJson) {
  auto spec = parse_job_spec("name: a\nduration: 1h\ndeadline: +14h\nnot_before: today 20:00\n");
  ASSERT_TRUE(spec);
  const auto json = nlohmann::json::parse(job_spec_to_json(*spec));
  EXPECT_EQ(json["deadline"], "+14h");
  EXPECT_EQ(json["not_before"], "today 20:00");
  auto again = parse_job_spec(job_spec_to_json(*spec));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *spec);
}

TEST(SpecFields, AnUnknownFieldOffersTheClosestKnownOne) {
  auto spec = parse_job_spec("name: a\nduraton: 1h\nvertex: {machine_typ: n1}\nzzz: 1\n");
  ASSERT_FALSE(spec);
  std::map<std::string, std::string> messages;
  for (const auto& e : spec.error().details)
    messages[e.field] = e.message;
  EXPECT_EQ(messages["duraton"], "unknown field; did you mean 'duration'?");
  EXPECT_EQ(messages["vertex.machine_typ"], "unknown field; did you mean 'machine_type'?");
  EXPECT_EQ(messages["zzz"], "unknown field");
  EXPECT_EQ(closest("jbos", std::vector<std::string>{"jobs", "show"}), "jobs");
}

TEST(SpecFields, FlagsOverrideTheDocumentBeforeItIsChecked) {
  SpecOverrides overrides;
  overrides.fields = {{"name", "flagged"}, {"duration", "3h"}};
  overrides.regions = std::vector<std::string>{"europe-west9"};
  auto spec = parse_job_spec("name: file\nregions: [europe-west2]\n", overrides);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "flagged");
  EXPECT_EQ(spec->duration, std::chrono::hours(3));
  EXPECT_EQ(spec->regions, std::vector<std::string>{"europe-west9"});
  overrides.fields = {{"duration", "soon"}};
  auto bad = parse_job_spec("name: file\n", overrides);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().details[0].field, "duration");
  EXPECT_EQ(job_spec_lines("name: a\n\nregions:\n  - x\n").at("regions"), 3);
}

TEST(CliOutput, MessagesShowLocalTimesAndStatesAreColouredOnlyWhenAsked) {
  setenv("TZ", "Europe/Paris", 1);
  tzset();
  EXPECT_EQ(localize_times("planned 2026-11-26T18:00:00Z in europe-west9"),
            "planned 2026-11-26 19:00 +0100 in europe-west9");
  EXPECT_EQ(localize_times("no time here: 2026-13-99"), "no time here: 2026-13-99");
  EXPECT_EQ(paint_state("failed", false), "failed");
  EXPECT_EQ(paint_state("failed", true), "\x1b[31mfailed\x1b[0m");
  // Colour escapes do not count in the table's widths.
  const nlohmann::json list = {
      {"jobs",
       {{{"id", "j-1"}, {"name", "a"}, {"state", "failed"}, {"region", "r"}},
        {{"id", "j-2"}, {"name", "b"}, {"state", "queued"}, {"region", "r"}}}}};
  std::string coloured = render_jobs(list, utc("2026-11-26T18:00:00Z"), true);
  EXPECT_NE(coloured.find("\x1b[31mfailed\x1b[0m"), std::string::npos) << coloured;
  for (const char* escape : {"\x1b[31m", "\x1b[0m"})
    coloured.replace(coloured.find(escape), std::string(escape).size(), "");
  EXPECT_EQ(coloured, render_jobs(list, utc("2026-11-26T18:00:00Z"), false));
  unsetenv("TZ");
  tzset();
}

TEST(HtmlReport, APageIsSelfContainedAndEscapesWhatItQuotes) {
  HtmlReportData data;
  data.generated_at = utc("2026-11-27T08:00:00Z");
  data.totals = {{"jobs", {{"total", 1}}}, {"emissions_g", 400.0}, {"baseline_g", 1000.0},
                 {"saved_g", 600.0},       {"savings", 0.6},       {"energy_kwh", 2.0}};
  data.by_region = {{"groups",
                     {{{"key", "europe-west2"},
                       {"jobs_accounted", 1},
                       {"emissions_g", 400.0},
                       {"baseline_g", 1000.0},
                       {"saved_g", 600.0},
                       {"savings", 0.6}}}}};
  data.by_month = nlohmann::json::object();
  HtmlReportJob job;
  job.job = {{"id", "j-abc"},
             {"name", "<script>alert(1)</script>"},
             {"region", "europe-west2"},
             {"state", "succeeded"},
             {"submitted_at", "2026-11-26T18:00:00Z"},
             {"started_at", "2026-11-27T02:00:00Z"},
             {"finished_at", "2026-11-27T04:00:00Z"},
             {"deadline", "2026-11-27T08:00:00Z"},
             {"accounting", {{"actual_g", 400.0}, {"baseline_g", 1000.0}, {"savings", 0.6}}}};
  job.intensity = {
      {"points",
       {{{"start", "2026-11-26T17:00:00Z"}, {"end", "2026-11-27T02:00:00Z"}, {"intensity", 250.0}},
        {{"start", "2026-11-27T02:00:00Z"},
         {"end", "2026-11-27T09:00:00Z"},
         {"intensity", 100.0}}}}};
  data.jobs.push_back(job);
  const auto page = render_html_report(data);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // nothing fetched
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_NE(page.find("<path d=\"M"), std::string::npos);  // the intensity curve
  EXPECT_NE(page.find("submitted (baseline start)"), std::string::npos);
  EXPECT_NE(page.find("60.0 %"), std::string::npos);
  EXPECT_NE(page.find("Savings by month"), std::string::npos);
  EXPECT_NE(page.find("No finished job with figures yet."), std::string::npos);  // no months
}

TEST(HtmlReport, AnInterruptibleJobIsShadedSegmentBySegment) {
  HtmlReportData data;
  data.totals = nlohmann::json::object();
  data.by_region = nlohmann::json::object();
  data.by_month = nlohmann::json::object();
  HtmlReportJob job;
  job.job = {{"id", "j-seg"},
             {"name", "split"},
             {"region", "europe-west2"},
             {"state", "succeeded"},
             {"submitted_at", "2026-11-26T18:00:00Z"},
             {"started_at", "2026-11-27T01:00:00Z"},
             {"finished_at", "2026-11-27T05:00:00Z"},
             {"deadline", "2026-11-27T08:00:00Z"},
             {"segments",
              {{{"n", 1},
                {"start", "2026-11-27T01:00:00Z"},
                {"end", "2026-11-27T02:00:00Z"},
                {"finished_at", "2026-11-27T02:00:00Z"}},
               {{"n", 2},
                {"start", "2026-11-27T04:00:00Z"},
                {"end", "2026-11-27T05:00:00Z"},
                {"finished_at", "2026-11-27T05:00:00Z"}}}},
             {"accounting", {{"actual_g", 200.0}, {"baseline_g", 1000.0}, {"savings", 0.8}}}};
  data.jobs.push_back(job);
  const auto page = render_html_report(data);
  std::size_t shaded = 0;
  for (auto at = page.find("fill=\"#cdeed8\""); at != std::string::npos;
       at = page.find("fill=\"#cdeed8\"", at + 1)) {
    ++shaded;
  }
  EXPECT_EQ(shaded, 2U);  // one rectangle per segment, not one over 01:00-05:00
  EXPECT_NE(page.find("in 2 segments"), std::string::npos);
}

TEST(HtmlReport, ThePageDrawsTheNewestFinishedJobsOfTheRange) {
  // 60 jobs in submission order; job i ended at hour i; job 7 never ran.
  NewestFinishedJobs picked(std::nullopt, std::nullopt, 50);
  NewestFinishedJobs ranged(utc("2026-11-01T10:00:00Z"), utc("2026-11-01T13:00:00Z"), 50);
  for (int i = 0; i < 60; ++i) {
    const auto end = utc("2026-11-01T00:00:00Z") + std::chrono::hours(i);
    nlohmann::json job = {{"id", "j-" + std::to_string(i)}, {"region", "r"}};
    if (i != 7) {
      job["started_at"] = format_rfc3339(end - std::chrono::minutes(30));
      job["finished_at"] = format_rfc3339(end);
    }
    picked.offer(job);
    ranged.offer(job);
  }
  const auto newest = picked.take();
  ASSERT_EQ(newest.size(), 50u);
  EXPECT_EQ(newest.front().job["id"], "j-59");
  EXPECT_EQ(newest.back().job["id"], "j-10");
  const auto in_range = ranged.take();
  ASSERT_EQ(in_range.size(), 3u);
  EXPECT_EQ(in_range[0].job["id"], "j-12");
  EXPECT_EQ(in_range[2].job["id"], "j-10");
}

}  // namespace
}  // namespace gridshift
