package mirror

// OnIdle sets the function told each time a mirror has delivered everything
// it found (its name and cursor) and waits again.
func OnIdle(cfg *Config, f func(mirror string, cursor int64)) { cfg.idle = f }
