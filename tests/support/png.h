// Test support: reads an 8-bit RGB or RGBA PNG (what a headless browser's screenshot is) into
// pixels, with zlib, so that tests can check what a page really looked like. Not a general
// decoder: no palette, no interlacing, no 16-bit channels (each is an error).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace gridshift::testing {

struct Rgb {
  int r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<Rgb> pixels;  // row by row
  Rgb at(std::uint32_t x, std::uint32_t y) const { return pixels[y * width + x]; }
};

namespace png_detail {

inline std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) |
         (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

inline int paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

}  // namespace png_detail

// The image, or nullopt with `error` set.
inline std::optional<Image> decode_png(const std::string& file, std::string& error) {
  using namespace png_detail;
  if (file.size() < 8 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    error = "not a PNG";
    return std::nullopt;
  }
  Image image;
  std::size_t channels = 0;
  std::string compressed;
  for (std::size_t at = 8; at + 8 <= file.size();) {
    const std::uint32_t length = be32(file, at);
    const std::string type = file.substr(at + 4, 4);
    if (at + 12 + length > file.size()) {
      error = "truncated chunk " + type;
      return std::nullopt;
    }
    const std::string data = file.substr(at + 8, length);
    if (type == "IHDR") {
      image.width = be32(data, 0);
      image.height = be32(data, 4);
      const int depth = std::uint8_t(data[8]);
      const int colour = std::uint8_t(data[9]);
      if (depth != 8 || (colour != 2 && colour != 6) || data[12] != 0) {
        error = "unsupported PNG form";
        return std::nullopt;
      }
      channels = colour == 2 ? 3u : 4u;
    } else if (type == "IDAT") {
      compressed += data;
    }
    at += 12 + length;
  }
  const std::size_t stride = std::size_t{image.width} * channels;
  std::vector<unsigned char> raw((stride + 1) * image.height);
  uLongf size = raw.size();
  if (channels == 0 ||
      uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      size != raw.size()) {
    error = "cannot inflate the image data";
    return std::nullopt;
  }
  std::vector<unsigned char> previous(stride, 0), row(stride);
  for (std::uint32_t y = 0; y < image.height; ++y) {
    const unsigned char filter = raw[y * (stride + 1)];
    const unsigned char* in = &raw[y * (stride + 1) + 1];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? row[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= channels ? previous[i - channels] : 0;
      int predictor = 0;
      switch (filter) {
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) / 2;
          break;
        case 4:
          predictor = paeth(a, b, c);
          break;
        default:
          break;
      }
      row[i] = static_cast<unsigned char>(in[i] + predictor);
    }
    for (std::uint32_t x = 0; x < image.width; ++x) {
      const unsigned char* p = &row[std::size_t{x} * channels];
      image.pixels.push_back({p[0], p[1], p[2]});
    }
    previous = row;
  }
  return image;
}

// Pixels within `tolerance` (per channel) of `colour`.
inline std::size_t count_near(const Image& image, Rgb colour, int tolerance) {
  std::size_t n = 0;
  for (const auto& p : image.pixels) {
    if (std::abs(p.r - colour.r) <= tolerance && std::abs(p.g - colour.g) <= tolerance &&
        std::abs(p.b - colour.b) <= tolerance) {
      ++n;
    }
  }
  return n;
}

}  // namespace gridshift::testing
