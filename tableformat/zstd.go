package tableformat

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// zstdWindow is the match window of the ZSTD pages writers compress: four
// times DefaultPageBytes, so a page compresses as well as with a larger
// window (measured: byte for byte the same on a 256 KiB page; only a page
// over 1 MiB, one huge value, can compress less). parquet-go's codec takes
// the library's 8 MiB default, for which each pooled encoder holds 16 MiB
// of history: measured, 48 MiB of the peak of a 2 M-row transaction being
// spilled. Frames with a smaller window are ordinary ZSTD frames: every
// reader decodes them.
const zstdWindow = 1 << 20

// zstdCodec is the ZSTD page codec with a bounded window; it decodes with
// parquet-go's.
type zstdCodec struct {
	encoders sync.Pool
}

// zstdPages is the one codec writers share, so its encoders are reused
// across files (a cache, like parquet-go's own codecs).
var zstdPages = &zstdCodec{}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithWindowSize(zstdWindow))
		if err != nil {
			return nil, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) { return parquet.Zstd.Decode(dst, src) }
