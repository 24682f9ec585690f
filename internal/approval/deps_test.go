package approval_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the domain core free of adapters: it may use the
// standard library only, and not database/sql either.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"database/sql", "github.com/", "go.uber.org/", "modernc.org/", "golang.org/x/"}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages; want the full dependency list", len(deps))
	}
	for _, dep := range deps {
		if dep == "github.com/share-bucket/share-bucket/internal/approval" {
			continue
		}
		for _, b := range banned {
			if strings.HasPrefix(dep, b) {
				t.Errorf("internal/approval depends on %s; the domain core must not import adapters", dep)
			}
		}
	}
}
