#include "protocol/ssh/startup_limiter.hpp"

namespace cssh::ssh {

bool startup_limiter::try_acquire(const std::string& source) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (total_ >= max_total_) return false;
  int& from_source = per_source_[source];
  if (from_source >= max_per_source_) {
    if (from_source == 0) per_source_.erase(source);
    return false;
  }
  ++from_source;
  ++total_;
  return true;
}

bool startup_limiter::try_acquire_unattributed() {
  std::lock_guard<std::mutex> guard(mutex_);
  if (total_ >= max_total_) return false;
  ++total_;
  return true;
}

bool startup_limiter::try_attribute(const std::string& source) {
  std::lock_guard<std::mutex> guard(mutex_);
  int& from_source = per_source_[source];
  if (from_source >= max_per_source_) {
    if (from_source == 0) per_source_.erase(source);
    return false;
  }
  ++from_source;
  return true;
}

void startup_limiter::release(const std::string& source) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!source.empty()) {
    auto it = per_source_.find(source);
    if (it == per_source_.end()) return;
    if (--it->second <= 0) per_source_.erase(it);
  }
  if (total_ > 0) --total_;
}

int startup_limiter::in_use() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return total_;
}

}  // namespace cssh::ssh
