package mysql

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/binlake/binlake/internal/settings"
	"github.com/binlake/binlake/tableformat"
)

// TestSourceConfigValidate: the flavour and the heartbeat are checked
// before any server is asked, by the sources and by a configuration alike.
func TestSourceConfigValidate(t *testing.T) {
	if err := (SourceConfig{}).withDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := SourceConfig{Flavor: "postgres", HeartbeatPeriod: -1}.Validate()
	if got := settings.Fields(err); !slices.Equal(got, []string{"flavor", "heartbeat_period"}) {
		t.Fatalf("Validate: %v; fields %v", err, got)
	}
	if !strings.Contains(err.Error(), `flavor "postgres": use mariadb or mysql`) || !strings.Contains(err.Error(), "such as 10s") {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := NewBinlogSource(context.Background(), SourceConfig{Flavor: "postgres"}, tableformat.Position{}); err == nil ||
		!strings.Contains(err.Error(), `binlog source: flavor "postgres"`) {
		t.Fatalf("NewBinlogSource: %v", err)
	}
}
