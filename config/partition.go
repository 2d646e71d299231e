package config

import (
	"encoding/binary"
	"math/bits"
)

// Token returns the Cassandra-flavoured Murmur3 token of key: the first
// 64-bit half of Murmur3 x64_128 (seed 0) read as a signed int64. Cassandra
// sign-extends each tail byte (Java byte semantics) before shifting it, which
// common Go murmur3 packages do not; the results differ for keys whose 1-15
// tail bytes include a byte >= 0x80, so weir carries its own implementation
// (pinned by the vectors in spec/polarstreams.md §3).
func Token(key []byte) int64 {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	var h1, h2 uint64
	n := len(key)
	nblocks := n / 16
	for i := 0; i < nblocks; i++ {
		k1 := binary.LittleEndian.Uint64(key[i*16:])
		k2 := binary.LittleEndian.Uint64(key[i*16+8:])
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
		h1 = bits.RotateLeft64(h1, 27)
		h1 += h2
		h1 = h1*5 + 0x52dce729
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
		h2 = bits.RotateLeft64(h2, 31)
		h2 += h1
		h2 = h2*5 + 0x38495ab5
	}
	tail := key[nblocks*16:]
	// sx sign-extends a byte the way Java's (long) cast of a byte does.
	sx := func(b byte) uint64 { return uint64(int64(int8(b))) }
	var k1, k2 uint64
	switch len(tail) {
	case 15:
		k2 ^= sx(tail[14]) << 48
		fallthrough
	case 14:
		k2 ^= sx(tail[13]) << 40
		fallthrough
	case 13:
		k2 ^= sx(tail[12]) << 32
		fallthrough
	case 12:
		k2 ^= sx(tail[11]) << 24
		fallthrough
	case 11:
		k2 ^= sx(tail[10]) << 16
		fallthrough
	case 10:
		k2 ^= sx(tail[9]) << 8
		fallthrough
	case 9:
		k2 ^= sx(tail[8])
		k2 *= c2
		k2 = bits.RotateLeft64(k2, 33)
		k2 *= c1
		h2 ^= k2
		fallthrough
	case 8:
		k1 ^= sx(tail[7]) << 56
		fallthrough
	case 7:
		k1 ^= sx(tail[6]) << 48
		fallthrough
	case 6:
		k1 ^= sx(tail[5]) << 40
		fallthrough
	case 5:
		k1 ^= sx(tail[4]) << 32
		fallthrough
	case 4:
		k1 ^= sx(tail[3]) << 24
		fallthrough
	case 3:
		k1 ^= sx(tail[2]) << 16
		fallthrough
	case 2:
		k1 ^= sx(tail[1]) << 8
		fallthrough
	case 1:
		k1 ^= sx(tail[0])
		k1 *= c1
		k1 = bits.RotateLeft64(k1, 31)
		k1 *= c2
		h1 ^= k1
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1 = fmix64(h1)
	h2 = fmix64(h2)
	h1 += h2
	return int64(h1)
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// PartitionForToken maps a token onto one of p equal token ranges:
// floor((token - MinInt64) / floor(2^64 / p)), capped at p-1. The range width
// is the exact 128-by-64-bit quotient, not (2^64-1)/p, which would move the
// boundaries when p is a power of two.
func PartitionForToken(token int64, p int) int {
	if p <= 1 {
		return 0
	}
	// token - MinInt64 is the token's bits with the top bit flipped, unsigned.
	u := uint64(token) ^ (1 << 63)
	width, _ := bits.Div64(1, 0, uint64(p))
	part := u / width
	if part >= uint64(p) {
		return p - 1
	}
	return int(part)
}

// PartitionForKey is PartitionForToken(Token(key), p).
func PartitionForKey(key []byte, p int) int {
	return PartitionForToken(Token(key), p)
}
