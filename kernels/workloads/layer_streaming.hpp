#pragma once

// Layer streaming: a model whose weights are several times the device budget runs one layer
// per kernel (a = relu(W_l a) for a batch of activations), each step reading every layer's
// weights once, in order, while the two activation buffers are reused by every kernel. How
// models larger than the GPU are run; the weights are the textbook loop that does not fit.

#include "kernels/workloads/workload.hpp"

namespace uvm::workloads {

class layer_streaming final : public workload {
 public:
  explicit layer_streaming(const workload_size& z) : layers_(12u * z.scale), seed_(z.seed) {}
  [[nodiscard]] std::string_view name() const noexcept override { return "layer-streaming"; }

  void setup(manager& mgr) override {
    rng g(seed_);
    std::vector<float> w(layers_ * width * width), a(batch * width);
    // A gain near 1 per layer (mean weight 1/width): activations neither die nor explode.
    for (float& x : w) x = (static_cast<float>(g.below(9)) - 3.0f) / static_cast<float>(width);
    for (float& x : a) x = static_cast<float>(g.below(5));
    std::vector<float> in = a, out(batch * width);
    for (std::size_t step = 0; step < steps; ++step) {
      for (std::size_t l = 0; l < layers_; ++l) {
        for (std::size_t e = 0; e < batch * width; ++e)
          out[e] = neuron(&w[l * width * width], in.data(), e);
        std::swap(in, out);
      }
    }
    want_ = std::move(in);
    weights_ = upload(mgr, w);
    act_[0] = upload(mgr, a);
    act_[1] = mgr.allocate<float>(batch * width);
  }
  [[nodiscard]] std::vector<const range*> ranges() const override {
    return {&weights_.bytes(), &act_[0].bytes(), &act_[1].bytes()};
  }

  void run_on(manager& mgr, std::span<const stream> on) override {
    const auto w = weights_.const_view();
    std::size_t cur = 0;
    for (std::size_t step = 0; step < steps; ++step) {
      for (std::size_t l = 0; l < layers_; ++l) {
        const auto in = act_[cur].const_view();
        const auto out = act_[1 - cur].view();
        const std::size_t first = l * width * width;
        launch_bands(
            mgr, batch * width,
            [=] UVM_HOST_DEVICE(std::size_t e) {
              const std::size_t b = e / width, o = e % width;
              float sum = 0.0f;
              for (std::size_t k = 0; k < width; ++k)
                sum += w.load(first + o * width + k) * in.load(b * width + k);
              out.store(e, sum > 0.0f ? sum : 0.0f);
            },
            on);
        cur = 1 - cur;
      }
    }
    wait_all(mgr, on);
    last_ = cur;
  }

  [[nodiscard]] std::string check() const override {
    return compare_close("activation", act_[last_].data(), want_);
  }
  [[nodiscard]] const range& result() const override { return act_[last_].bytes(); }

 private:
  static constexpr std::size_t width = 256, batch = 16, steps = 3;
  static float neuron(const float* w, const float* in, std::size_t e) {
    const std::size_t b = e / width, o = e % width;
    float sum = 0.0f;
    for (std::size_t k = 0; k < width; ++k) sum += w[o * width + k] * in[b * width + k];
    return sum > 0.0f ? sum : 0.0f;
  }

  std::size_t layers_;
  std::uint64_t seed_;
  typed_range<float> weights_;
  typed_range<float> act_[2];
  std::vector<float> want_;
  std::size_t last_ = 0;
};

}  // namespace uvm::workloads
