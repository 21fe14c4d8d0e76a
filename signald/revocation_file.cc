#include "signald/revocation_file.h"

#include <algorithm>
#include <chrono>
#include <fstream>

#include "common/files.h"
#include "common/log.h"

namespace vytal {

RevocationFile::RevocationFile(std::string path, size_t max_entries, int64_t now_s)
    : path_(std::move(path)), max_entries_(max_entries), latest_now_s_(now_s) {
  // The previous run's revocations: without them the first write of this run
  // would re-enable every credential revoked before the restart.
  std::ifstream in(path_);
  std::string user;
  int64_t until;
  while (in >> user >> until)
    if (until > now_s) revoked_[user] = until;
  loaded_ = revoked_.size();
  entries_ = revoked_.size();
  thread_ = std::thread([this] { run(); });
}

RevocationFile::~RevocationFile() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void RevocationFile::revoke(const std::string& user, int64_t until_s, int64_t now_s) {
  {
    std::lock_guard lock(mu_);
    queued_.push_back({user, until_s});
    latest_now_s_ = std::max(latest_now_s_, now_s);
    ++queued_seq_;
  }
  wake_.notify_one();
}

void RevocationFile::unrevoke(const std::string& user, int64_t now_s) { revoke(user, 0, now_s); }

void RevocationFile::flush() {
  std::unique_lock lock(mu_);
  uint64_t target = queued_seq_;
  written_cv_.wait(lock, [&] { return written_seq_ >= target; });
}

void RevocationFile::run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_write = Clock::now() - std::chrono::milliseconds(kCoalesceMs);
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, nothing left
    // Coalesce: changes arriving within kCoalesceMs of the last write go
    // into one rewrite (a burst of leaves is one write, not one each).
    wake_.wait_until(lock, last_write + std::chrono::milliseconds(kCoalesceMs), [&] { return stopping_; });
    std::vector<Change> changes;
    changes.swap(queued_);
    uint64_t seq = queued_seq_;
    int64_t now_s = latest_now_s_;
    lock.unlock();
    for (Change& c : changes) {
      if (c.until_s == 0)
        revoked_.erase(c.user);
      else
        revoked_[std::move(c.user)] = c.until_s;
    }
    write(now_s);
    last_write = Clock::now();
    lock.lock();
    written_seq_ = seq;
    written_cv_.notify_all();
  }
}

void RevocationFile::write(int64_t now_s) {
  std::erase_if(revoked_, [now_s](const auto& e) { return e.second <= now_s; });
  if (revoked_.size() > max_entries_) {
    // Over the cap: keep the revocations that stay relevant longest. Those
    // dropped are credentials that expire first anyway.
    std::vector<std::pair<int64_t, std::string>> by_until;
    by_until.reserve(revoked_.size());
    for (const auto& [user, until] : revoked_) by_until.emplace_back(until, user);
    size_t over = revoked_.size() - max_entries_;
    std::nth_element(by_until.begin(), by_until.begin() + static_cast<std::ptrdiff_t>(over), by_until.end());
    for (size_t i = 0; i < over; ++i) revoked_.erase(by_until[i].second);
    dropped_ += over;
    LOG_WARN("turn: %zu revocation(s) over the cap of %zu dropped (those expiring first)", over, max_entries_);
  }
  std::string text;
  text.reserve(revoked_.size() * 64);
  for (const auto& [user, until] : revoked_) {
    text += user;
    text += ' ';
    text += std::to_string(until);
    text += '\n';
  }
  std::string error;
  if (write_file_atomically(path_, text, 0640, &error)) {
    ++writes_;
  } else {
    ++failures_;
    LOG_ERROR("turn: cannot write the revocations file: %s", error.c_str());
  }
  entries_ = revoked_.size();
}

}  // namespace vytal
