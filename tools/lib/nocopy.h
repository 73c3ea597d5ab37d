// NoCopy: the base of a class whose objects must not be copied or assigned
// (each owns a descriptor, a library handle, a buffer its own pointers point
// into, or a transfer in flight: a copy would free or use it twice). Said
// once, here, instead of two deleted members in every such class. Nor are
// they moved, unless the class declares how.
#pragma once

namespace pm {

class NoCopy {
public:
	NoCopy(const NoCopy &) = delete;
	NoCopy &operator=(const NoCopy &) = delete;

protected:
	NoCopy() = default;
	~NoCopy() = default;
};

} // namespace pm
