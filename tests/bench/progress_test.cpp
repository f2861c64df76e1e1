// The progress line: nothing for a step shorter than its delay, the label and the elapsed time
// rewritten in place for a longer one, erased at the end; nothing at all when not a terminal.
#include "bench/progress.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace bench {
namespace {

std::string contents(std::FILE* f) {
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  return s;
}

using namespace std::chrono_literals;

TEST(ProgressLine, AShortStepShowsNothing) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    const progress_line line("uvm-bench: [1/2] quick", f, /*force=*/true, 200ms);
    EXPECT_TRUE(line.shown());
  }
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

TEST(ProgressLine, ALongStepShowsItsLabelAndElapsedTimeThenErasesIt) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    const progress_line line("uvm-bench: [2/2] slow", f, /*force=*/true, 50ms);
    std::this_thread::sleep_for(1200ms);  // drawn at about 50, 550 and 1050 ms
  }
  const std::string s = contents(f);
  const std::regex drawn("\r\033\\[Kuvm-bench: \\[2/2\\] slow  ([0-9]+\\.[0-9]) s");
  std::vector<double> elapsed;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), drawn); it != std::sregex_iterator();
       ++it) {
    elapsed.push_back(std::stod((*it)[1]));
  }
  ASSERT_GE(elapsed.size(), 2u) << s;  // rewritten in place, with the time going up
  EXPECT_LT(elapsed.front(), elapsed.back()) << s;
  EXPECT_LE(elapsed.back(), 1.3) << s;
  EXPECT_EQ(s.substr(s.size() - 4), "\r\033[K");  // erased: the report starts on a clean line
  std::fclose(f);
}

TEST(ProgressLine, NotATerminalShowsNothing) {
  std::FILE* f = std::tmpfile();  // a file is not a terminal
  ASSERT_NE(f, nullptr);
  {
    const progress_line line("uvm-bench: [1/1] any", f, /*force=*/false, 0ms);
    EXPECT_FALSE(line.shown());
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace bench
