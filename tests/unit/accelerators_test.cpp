// Tests for the accelerator power table and power derivation (core/accelerators.h).
#include "core/accelerators.h"

#include <gtest/gtest.h>

namespace gridshift {
namespace {

TEST(AcceleratorTable, BuiltinParsesAndHoldsTheDesignFigures) {
  const AcceleratorTable& table = AcceleratorTable::builtin();
  ASSERT_FALSE(table.entries().empty());
  const std::pair<const char*, double> expected[] = {
      {"NVIDIA_TESLA_T4", 70},        {"NVIDIA_L4", 72},          {"NVIDIA_TESLA_V100", 300},
      {"NVIDIA_TESLA_A100", 400},     {"NVIDIA_A100_80GB", 400},  {"NVIDIA_H100_80GB", 700},
      {"NVIDIA_H100_MEGA_80GB", 700}, {"NVIDIA_H200_141GB", 700}, {"NVIDIA_TESLA_P100", 250},
      {"NVIDIA_TESLA_P4", 75},
  };
  for (const auto& [type, watts] : expected) {
    const AcceleratorInfo* info = table.find(type);
    ASSERT_NE(info, nullptr) << type;
    EXPECT_EQ(info->board_watts, watts) << type;
    EXPECT_FALSE(info->source.empty()) << type;
  }
  EXPECT_EQ(table.find("NVIDIA_TESLA_A101"), nullptr);
  EXPECT_EQ(table.find("nvidia_tesla_t4"), nullptr);
  EXPECT_EQ(&table, &AcceleratorTable::builtin());
}

TEST(AcceleratorTable, EveryBuiltinTypeIsAVertexType) {
  for (const auto& entry : AcceleratorTable::builtin().entries()) {
    EXPECT_TRUE(is_vertex_accelerator_type(entry.type)) << entry.type;
  }
  EXPECT_TRUE(is_vertex_accelerator_type("TPU_V5_LITEPOD"));
  EXPECT_FALSE(is_vertex_accelerator_type("NVIDIA_TESLA_Z9"));
  EXPECT_FALSE(is_vertex_accelerator_type(""));
}

TEST(AcceleratorTable, ParsesValidCsv) {
  auto table = AcceleratorTable::parse_csv(
      "accelerator_type,board_watts,embodied_kgco2e,source\r\n"
      "GPU_A,70.5,,datasheet, page 2\r\n"
      "\n"
      "GPU_B,300,150.5,other\n");
  ASSERT_TRUE(table) << to_string(table.error());
  ASSERT_EQ(table->entries().size(), 2u);
  EXPECT_EQ(table->entries()[0].type, "GPU_A");
  EXPECT_EQ(table->entries()[0].board_watts, 70.5);
  EXPECT_EQ(table->entries()[0].source, "datasheet, page 2");
  EXPECT_EQ(table->find("GPU_B")->board_watts, 300);
  EXPECT_FALSE(table->entries()[0].embodied_kgco2e);  // empty: no source, no figure
  EXPECT_EQ(table->find("GPU_B")->embodied_kgco2e, 150.5);
}

struct BadCsv {
  const char* text;
  int line;
  const char* field;
};

TEST(AcceleratorTable, RejectsBadCsvNamingTheLine) {
  const BadCsv cases[] = {
      {"", 1, "header"},
      {"type,watts,source\nGPU_A,70,x\n", 1, "header"},
      {"accelerator_type,board_watts,source\nGPU_A,70,x\n", 1, "header"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,x\n", 2, ""},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,,x\nGPU_B,abc,,y\n", 3,
       "board_watts"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,-5,,x\n", 2, "board_watts"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,0,,x\n", 2, "board_watts"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70W,,x\n", 2, "board_watts"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,-1,x\n", 2,
       "embodied_kgco2e"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,lots,x\n", 2,
       "embodied_kgco2e"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\ngpu_a,70,,x\n", 2, "accelerator_type"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\n,70,,x\n", 2, "accelerator_type"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,,\n", 2, "source"},
      {"accelerator_type,board_watts,embodied_kgco2e,source\nGPU_A,70,,x\n\nGPU_A,80,,y\n", 4,
       "accelerator_type"},
  };
  for (const auto& c : cases) {
    auto table = AcceleratorTable::parse_csv(c.text);
    ASSERT_FALSE(table) << c.text;
    EXPECT_EQ(table.error().code, "invalid_accelerator_table");
    ASSERT_EQ(table.error().details.size(), 1u) << c.text;
    EXPECT_EQ(table.error().details[0].line, c.line) << c.text;
    EXPECT_EQ(table.error().details[0].field, c.field) << c.text;
    EXPECT_NE(table.error().message.find("line " + std::to_string(c.line)), std::string::npos);
  }
}

JobSpec vertex_spec(std::string type, int count, int replicas) {
  JobSpec spec;
  spec.name = "p";
  spec.duration = Seconds{3600};
  VertexSpec vertex;
  vertex.accelerator_type = std::move(type);
  vertex.accelerator_count = count;
  vertex.replica_count = replicas;
  vertex.container = ContainerSpec{"img", {}, {}, {}};
  spec.vertex = vertex;
  return spec;
}

TEST(DerivePowerWatts, TwoA100TwoReplicas) {
  // (2 x 400 W + 150 W host) x 2 replicas = 1900 W.
  EXPECT_DOUBLE_EQ(
      derive_power_watts(vertex_spec("NVIDIA_TESLA_A100", 2, 2), AcceleratorTable::builtin()),
      1900.0);
}

TEST(DerivePowerWatts, OneT4) {
  // 70 W + 150 W = 220 W.
  EXPECT_DOUBLE_EQ(
      derive_power_watts(vertex_spec("NVIDIA_TESLA_T4", 1, 1), AcceleratorTable::builtin()), 220.0);
}

TEST(DerivePowerWatts, EightH100WithCustomHostShare) {
  // (8 x 700 W + 400 W) x 1 = 6000 W.
  EXPECT_DOUBLE_EQ(
      derive_power_watts(vertex_spec("NVIDIA_H100_80GB", 8, 1), AcceleratorTable::builtin(), 400.0),
      6000.0);
}

TEST(DerivePowerWatts, CpuOnlyVertexJobIsHostSharePerReplica) {
  EXPECT_DOUBLE_EQ(derive_power_watts(vertex_spec("", 0, 3), AcceleratorTable::builtin()), 450.0);
}

TEST(DerivePowerWatts, ExplicitPowerWins) {
  JobSpec spec = vertex_spec("NVIDIA_TESLA_A100", 2, 2);
  spec.power_watts = 900.0;
  EXPECT_DOUBLE_EQ(derive_power_watts(spec, AcceleratorTable::builtin()), 900.0);
}

TEST(DerivePowerWatts, NoVertexIsOneHostShare) {
  JobSpec spec;
  spec.name = "local";
  spec.local = LocalSpec{{"python3", "train.py"}};
  EXPECT_DOUBLE_EQ(derive_power_watts(spec, AcceleratorTable::builtin()), 150.0);
  EXPECT_DOUBLE_EQ(derive_power_watts(spec, AcceleratorTable::builtin(), 90.0), 90.0);
}

TEST(DerivePowerWatts, UsesTheGivenTable) {
  auto table = AcceleratorTable::parse_csv(
      "accelerator_type,board_watts,embodied_kgco2e,source\nGPU_X,250,,test\n");
  ASSERT_TRUE(table);
  // (3 x 250 W + 150 W) x 2 = 1800 W.
  EXPECT_DOUBLE_EQ(derive_power_watts(vertex_spec("GPU_X", 3, 2), *table), 1800.0);
}

}  // namespace
}  // namespace gridshift
