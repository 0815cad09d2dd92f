package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/binlake/binlake/connectors/objstore"
	"github.com/binlake/binlake/tableformat"
)

// errStorage marks a store that cannot be reached or refuses requests.
var errStorage = errors.New("storage unusable")

// lake is an opened lake: its config, store and log.
type lake struct {
	cfg    *Config
	store  objstore.Store
	log    *tableformat.Log
	logger *slog.Logger
}

// lakeURL is the lake's root: <warehouse>/<source>.
func lakeURL(cfg *Config) string {
	return strings.TrimRight(cfg.Warehouse.URL, "/") + "/" + cfg.Source.Name
}

// openStore opens the object store of the lake the config names.
func openStore(ctx context.Context, cfg *Config) (objstore.Store, error) {
	store, err := objstore.Open(ctx, lakeURL(cfg), cfg.Warehouse.S3.store())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errStorage, err)
	}
	return store, nil
}

// openLake loads the config at path and opens the lake it names.
func openLake(ctx context.Context, env *cliEnv, path string) (*lake, error) {
	return openLakeLog(ctx, env, path, false)
}

// openLakeLog is openLake; with lazyFiles, its log is a reader's that reads
// the files of a table only when asked (tableformat.LogOptions.LazyTables)
// and cannot commit.
func openLakeLog(ctx context.Context, env *cliEnv, path string, lazyFiles bool) (*lake, error) {
	cfg, err := loadConfig(path, env.getenv)
	if err != nil {
		return nil, err
	}
	logger := newLogger(cfg.Log, env.stderr)
	now, err := clockFromEnv(env.getenv, logger)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l := tableformat.NewLog(store, tableformat.LogOptions{Logger: logger, Now: now, LazyTables: lazyFiles})
	if _, err := l.Latest(ctx); err != nil {
		store.Close()
		switch {
		case errors.Is(err, tableformat.ErrNoLake):
			return nil, fmt.Errorf("%s holds no lake yet: run 'binlake ingest' to create it: %w", lakeURL(cfg), err)
		case errors.Is(err, tableformat.ErrCorrupt), ctx.Err() != nil:
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %w", errStorage, lakeURL(cfg), err)
	}
	return &lake{cfg: cfg, store: store, log: l, logger: logger}, nil
}
