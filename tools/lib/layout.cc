#include "layout.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sys/stat.h>

#include "fsutil.h"
#include "index_root.h"

namespace pm {

Layout::Layout(std::string dir) : dir_(std::move(dir))
{
	while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
	web_ = dir_ + "/web";
	simple_ = web_ + "/simple";
}

bool Layout::holds(const std::string &name) const
{
	// The pages, not the directory: an empty directory (a first sync that
	// failed before its page was written) holds nothing to serve or prune.
	// The same test scan_simple_dir() applies.
	struct stat st;
	std::string d = project_dir(name);
	for (const char *page : {"/index.v1_json", "/index.html", "/index.v1_html"})
		if (stat((d + page).c_str(), &st) == 0 && S_ISREG(st.st_mode)) return true;
	return false;
}

bool Layout::held_projects(RootList &out, std::string &why) const
{
	long long meta_serial;
	std::string note;
	// Missing, or unusable (a bandersnatch root has no serials): the
	// directories tell.
	if (load_root_json(root_index(), out, meta_serial, note)) return true;
	return scan_simple_dir(simple_, out, why);
}

bool read_status(const Layout &m, long long &serial, std::string *error)
{
	serial = 0;
	std::string s, path = m.status();
	if (!read_file(path, s, 64)) {
		if (errno == ENOENT) return true;
		if (error) *error = "cannot read " + path + ": " + strerror(errno);
		return false;
	}
	return parse_status(s, path, serial, error);
}

bool parse_status(std::string s, const std::string &path, long long &serial, std::string *error)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
	if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
		if (error) *error = path + " does not hold a serial";
		return false;
	}
	serial = atoll(s.c_str());
	return true;
}

bool write_status(const Layout &m, long long serial, std::string *error)
{
	// bandersnatch writes the bare number without a newline; so do we.
	return write_file_atomic(m.status(), std::to_string(serial), true, error);
}

bool add_to_unlisted(const Layout &m, const std::string &name, const std::vector<std::string> &paths, bool sync,
                     std::string *error, bool *made)
{
	std::string path = m.unlisted_journal(name), text;
	bool existed = read_file(path, text, 64u << 20);
	if (made) *made = false;
	if (!existed && errno != ENOENT) {
		if (error) *error = "cannot read " + path + ": " + strerror(errno);
		return false;
	}
	if (made) *made = !existed;
	const std::string old = text; // what is there: not read a second time to compare
	if (!merge_unlisted(text, paths)) return true;
	return write_file_atomic_over(path, text, existed ? &old : nullptr, sync, error);
}

bool merge_unlisted(std::string &text, const std::vector<std::string> &paths)
{
	std::set<std::string> have;
	for (size_t pos = 0; pos < text.size();) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos) nl = text.size();
		have.insert(text.substr(pos, nl - pos));
		pos = nl + 1;
	}
	if (!text.empty() && text.back() != '\n') text += '\n'; // a torn line stays a line of its own
	size_t before = text.size();
	for (auto &p : paths)
		if (have.insert(p).second) text += p + "\n";
	return text.size() != before;
}

} // namespace pm
