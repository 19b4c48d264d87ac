package statusicon

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"strings"
	"testing"
)

func TestLinesSayTheState(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    State
		want []string
	}{
		{State{}, []string{"millrun is running", "Tunnel: off"}},
		{State{Running: 1, Tunnel: "reconnecting"}, []string{"millrun is running 1 job", "Tunnel: offline (reconnecting)"}},
		{State{Tunnel: "error", LastFailure: strings.Repeat("x", 200), Paused: true}, []string{"Tunnel: failed", "Last failure: xxx", "…", "Schedules paused"}},
	} {
		got := tooltip(c.s)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("tooltip of %+v:\n%s\nlacks %q", c.s, got, w)
			}
		}
	}
}

// The icon sent to the desktop is small, and an .ico Windows can load.
func TestIconSizes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		png  []byte
		size int
	}{{icon48, 48}, {icon32, 32}} {
		img, err := png.Decode(bytes.NewReader(c.png))
		if err != nil || img.Bounds().Dx() != c.size || img.Bounds().Dy() != c.size {
			t.Fatalf("the %d-pixel icon: %v", c.size, err)
		}
		if _, _, _, a := img.At(c.size/2, c.size/2).RGBA(); a == 0 {
			t.Fatalf("the %d-pixel icon's middle is transparent", c.size)
		}
	}
	small := icon32
	ico := icoFromPNG(small, 32)
	var hdr struct {
		Reserved, Type, Count uint16
		W, H, Colors, _       uint8
		Planes, Bits          uint16
		Size, Offset          uint32
	}
	if err := binary.Read(bytes.NewReader(ico), binary.LittleEndian, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr.Type != 1 || hdr.Count != 1 || hdr.W != 32 || int(hdr.Size) != len(small) || !bytes.Equal(ico[hdr.Offset:], small) {
		t.Fatalf("ico header %+v", hdr)
	}
}
