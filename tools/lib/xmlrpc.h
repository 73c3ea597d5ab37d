// XML-RPC responses, parsed as they arrive. PyPI's full project listing
// is tens of megabytes of XML, so the parser never builds the whole
// document: it is fed chunks (from an HTTP sink) and, when the result is an
// array or a struct, hands each element to a callback and forgets it. Only
// the element being built is held in memory, and that is bounded.
//
// The input is hostile until proven otherwise: a DOCTYPE (and with it any
// entity declaration, the "billion laughs" attack) is refused outright,
// nesting depth and text sizes are capped, and anything that is not the
// XML-RPC response grammar is an error that names the line and column.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nocopy.h"

namespace pm::xmlrpc {

enum class Type { Nil, Int, Bool, Double, String, Base64, DateTime, Array, Struct };

// "int", "string", ...: for messages.
const char *type_name(Type t);

struct Member;

struct Value {
	Type type = Type::Nil;
	long long i = 0;   // Int, Bool (0/1)
	double d = 0;      // Double
	std::string s;     // String; Base64 and DateTime as sent (not decoded)
	std::vector<Value> items;                           // Array
	std::vector<Member> members; // Struct, in document order

	bool is_nil() const { return type == Type::Nil; }
	bool is_int() const { return type == Type::Int; }
	bool is_string() const { return type == Type::String; }
	// The first member with that name, or nullptr (also when not a struct).
	const Value *member(const std::string &name) const;

	static Value make_int(long long v);
	static Value make_string(std::string v);
};

// A struct member. Not std::pair: a pair of an incomplete type inside Value
// does not compile with every standard library.
struct Member {
	std::string first;
	Value second;
	Member(std::string name, Value value) : first(std::move(name)), second(std::move(value)) {}
};

struct Limits {
	size_t max_depth = 64;             // element nesting, <methodResponse> is 1
	size_t max_text = 8u << 20;        // bytes of one scalar's text
	size_t max_value_bytes = 64u << 20; // bytes held for one value being built
};

class ResponseParser : NoCopy {
public:
	explicit ResponseParser(Limits limits = Limits());
	~ResponseParser();

	// When set, each element of a top-level array result is passed here as
	// soon as it is complete and then dropped (result() keeps an empty
	// array). Returning false stops the parse with error "stopped: <why>"
	// where why is whatever the callback left in its string argument.
	using ItemSink = std::function<bool(Value &item, std::string &why)>;
	// Likewise for the members of a top-level struct result.
	using MemberSink = std::function<bool(const std::string &name, Value &value, std::string &why)>;
	void set_item_sink(ItemSink s) { item_sink_ = std::move(s); }
	void set_member_sink(MemberSink s) { member_sink_ = std::move(s); }

	// Feeds the next chunk of the response body. Returns false once the
	// input is known to be bad (error() says why); further calls keep
	// returning false.
	bool feed(const char *data, size_t n);
	// Marks the end of input. True if a complete response was read: then
	// either is_fault() or result() holds the answer.
	bool finish();
	// Starts over for a new response (a retried request). Sinks are kept.
	void reset();

	const std::string &error() const { return error_; }
	bool is_fault() const { return fault_; }
	long long fault_code() const { return fault_code_; }
	const std::string &fault_string() const { return fault_string_; }
	// The result value (its array items / struct members are absent when a
	// sink took them).
	Value &result() { return result_; }
	// How many items / members were handed to a sink.
	size_t streamed() const { return streamed_; }
	// Bytes fed since the last reset.
	size_t bytes() const { return bytes_; }

	struct Impl;

private:
	Limits limits_;
	ItemSink item_sink_;
	MemberSink member_sink_;
	std::unique_ptr<Impl> impl_;
	std::string error_;
	bool fault_ = false;
	long long fault_code_ = 0;
	std::string fault_string_;
	Value result_;
	size_t streamed_ = 0;
	size_t bytes_ = 0;
	bool done_ = false;
	friend struct Impl;
};

// A methodCall body byte for byte as Python's xmlrpc.client.dumps writes
// it (what PyPI's own clients send). Params: Nil, Int, Bool, Double, String,
// Array and Struct values.
std::string method_call(const std::string &method, const std::vector<Value> &params = {});

// Escapes &, < and > for element text (as Python's xmlrpc.client does).
std::string xml_escape(const std::string &s);

} // namespace pm::xmlrpc
