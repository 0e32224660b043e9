package auth

import "testing"

func TestHasControlCharacters(t *testing.T) {
	var refused []rune
	for r := rune(0); r < 0x20; r++ {
		refused = append(refused, r)
	}
	for r := rune(0x7f); r <= 0x9f; r++ {
		refused = append(refused, r)
	}
	refused = append(refused, 0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069)
	for _, r := range refused {
		if s := "Ada" + string(r) + "Lovelace"; !HasControlCharacters(s) {
			t.Errorf("HasControlCharacters(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"", "Ada Lovelace", "Zoë", "e\u0301", "李小龍", "Ǆemal", "👩\u200d💻", "\u200c\u200d", // joiners are not controls
		"ＡＤＡ", "O'Brien-Smith", "\u00ad", "\ufeff", "\ufffd", "\U0001F1EC\U0001F1E7",
	} {
		if HasControlCharacters(s) {
			t.Errorf("HasControlCharacters(%q) = true, want false", s)
		}
	}
}

func TestAddressKeepsLineBreaksOnly(t *testing.T) {
	for s, want := range map[string]bool{
		"12 St James's Square\r\nLondon\nSW1Y": false,
		"\u202bشارع 12\u202c":                  false,
		"12\tSt James's":                       true,
		"12\x00":                               true,
		"\x1b[2J":                              true,
		"12\u0085London":                       true,
		"12\x7f":                               true,
	} {
		if got := hasControlsBesidesLineBreaks(s); got != want {
			t.Errorf("hasControlsBesidesLineBreaks(%q) = %v, want %v", s, got, want)
		}
	}
}
