package config

import "time"

// ByteSize is a size in bytes; in weir.yaml it may be written as a plain
// integer or with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; see
// ParseByteSize).
type ByteSize int64

// Duration is a time.Duration written in weir.yaml as a Go duration ("30s").
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Config is the whole of weir.yaml. Every field has a working default
// (Default); the file only overrides, and command-line flags override the file.
type Config struct {
	Server       ServerConfig       `yaml:"server"`
	Log          LogConfig          `yaml:"log"`
	Storage      StorageConfig      `yaml:"storage"`
	CDAP         CDAPConfig         `yaml:"cdap"`
	PolarStreams PolarStreamsConfig `yaml:"polarstreams"`
	Streams      StreamsConfig      `yaml:"streams"`
}

// ServerConfig configures the main HTTP listener.
type ServerConfig struct {
	// Addr is the main listener, host:port; port 0 picks a free port.
	Addr string `yaml:"addr"`
	// RequestTimeout is every request's deadline inside the engine.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ShutdownTimeout bounds a graceful stop (drain, fsync, exit).
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// LogConfig configures zerolog.
type LogConfig struct {
	// Level is trace, debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json, console or auto (console when stderr is a terminal).
	Format string `yaml:"format"`
}

// StorageConfig configures topics on disk.
type StorageConfig struct {
	DataDir           string   `yaml:"data_dir"`
	SegmentSize       ByteSize `yaml:"segment_size"`
	DefaultPartitions int      `yaml:"default_partitions"`
	// RetentionInterval is how often expired segments are removed.
	RetentionInterval Duration `yaml:"retention_interval"`
	// MaxInflightAppends caps queued appends per partition; above it
	// producers get ErrBusy.
	MaxInflightAppends int `yaml:"max_inflight_appends"`
	// MaxBytes, when > 0, bounds each partition's size on disk: the oldest
	// sealed segments are removed beyond it.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// CDAPConfig configures the CDAP Stream API v3.
type CDAPConfig struct {
	MaxEventSize   ByteSize `yaml:"max_event_size"`
	MaxBatchSize   ByteSize `yaml:"max_batch_size"`
	AsyncQueueSize int      `yaml:"async_queue_size"`
}

// PolarStreamsConfig configures the PolarStreams API (spec/polarstreams.md §1).
type PolarStreamsConfig struct {
	DedicatedListeners bool     `yaml:"dedicated_listeners"`
	DiscoveryPort      int      `yaml:"discovery_port"`
	ProducerPort       int      `yaml:"producer_port"`
	ConsumerPort       int      `yaml:"consumer_port"`
	AdvertisedHost     string   `yaml:"advertised_host"`
	MaxMessageSize     ByteSize `yaml:"max_message_size"`
	ConsumerTimeout    Duration `yaml:"consumer_timeout"`
}

// StreamsConfig configures Benthos pipelines.
type StreamsConfig struct {
	StopTimeout Duration `yaml:"stop_timeout"`
	MaxBodySize ByteSize `yaml:"max_body_size"`
}

const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

// Default returns the configuration weir runs with when nothing is set.
func Default() Config {
	return Config{
		Server: ServerConfig{
			Addr:            "127.0.0.1:4195",
			RequestTimeout:  Duration(30 * time.Second),
			ShutdownTimeout: Duration(30 * time.Second),
		},
		Log: LogConfig{Level: "info", Format: "auto"},
		Storage: StorageConfig{
			DataDir:            "./weir-data",
			SegmentSize:        8 * MiB,
			DefaultPartitions:  4,
			RetentionInterval:  Duration(5 * time.Minute),
			MaxInflightAppends: 10000,
		},
		CDAP: CDAPConfig{
			MaxEventSize:   1 * MiB,
			MaxBatchSize:   16 * MiB,
			AsyncQueueSize: 10000,
		},
		PolarStreams: PolarStreamsConfig{
			DiscoveryPort:   9250,
			ProducerPort:    9251,
			ConsumerPort:    9252,
			MaxMessageSize:  1048576,
			ConsumerTimeout: Duration(120 * time.Second),
		},
		Streams: StreamsConfig{
			StopTimeout: Duration(30 * time.Second),
			MaxBodySize: 16 * MiB,
		},
	}
}
