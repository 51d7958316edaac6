package mongodb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Ensure WritableDir makes missing folders and names the folder and the
// reason when it cannot. Tests run as root, whom permission bits do not
// stop, so the failures go through a file.
func TestWritableDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		want []string // in the error; none: no error
	}{
		{"OKExisting", base, nil},
		{"OKCreated", filepath.Join(base, "new", "nested"), nil},
		{"ErrParentIsAFile", filepath.Join(file, "data"), []string{"DATA_DIR " + filepath.Join(file, "data"), "cannot be created", "not a folder"}},
		{"ErrIsAFile", file, []string{"DATA_DIR " + file, "cannot be created"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WritableDir(tt.dir)
			if tt.want == nil {
				if err != nil || got != tt.dir {
					t.Fatalf("WritableDir(%q) = %q, %v", tt.dir, got, err)
				}
				entries, _ := os.ReadDir(got)
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), ".write-check") {
						t.Errorf("the write check left %s behind", e.Name())
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("WritableDir(%q) = nil error", tt.dir)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
