package pipelines

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/benthosdev/benthos/v4/public/service"

	"github.com/weirflow/weir/config"
	"github.com/weirflow/weir/plugins"
)

const weirOutputName = "weir"

func weirOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Stable().
		Categories("Services").
		Summary("Produces messages durably to a weir topic.").
		Description(`
Appends each message to a durable weir topic, creating a missing topic (with the default partition
count) in an existing namespace, as PolarStreams produce does. A message is acknowledged only after its
append is on disk (fsync). The body becomes the event body and metadata becomes event headers, except
keys starting with `+"`weir_`"+`.

`+"`partition_key`"+` is stored as the event key and picks the partition with the same Murmur3 hash as
PolarStreams' `+"`partitionKey`"+`; empty means weir's default round-robin placement. A namespace that
does not exist makes the output report "not connected" and retry; so does a namespace or topic name
that weir refuses (the log says why).`).
		Field(service.NewStringField("topic").Description("The topic to produce to.")).
		Field(service.NewStringField("namespace").Description("The topic's namespace.").Default(config.DefaultNamespace)).
		Field(service.NewInterpolatedStringField("partition_key").
			Description("The event key; it picks the partition. Empty means round-robin.").
			Default("").Example("${! this.user }")).
		Field(service.NewOutputMaxInFlightField()).
		Field(service.NewBatchPolicyField("batching")).
		Example("Keyed produce", "Produce each message keyed by its user field.", `
output:
  weir:
    topic: events
    partition_key: ${! this.user }
`)
}

func (env *Environment) registerWeirOutput() error {
	return env.svc.RegisterBatchOutput(weirOutputName, weirOutputSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			var pol service.BatchPolicy
			out := &weirOutput{topics: env.topics}
			var err error
			if out.topic, err = conf.FieldString("topic"); err != nil {
				return nil, pol, 0, err
			}
			if out.ns, err = conf.FieldString("namespace"); err != nil {
				return nil, pol, 0, err
			}
			if out.key, err = conf.FieldInterpolatedString("partition_key"); err != nil {
				return nil, pol, 0, err
			}
			// Refused names leave the output not connected (see the input).
			out.nameErr = validateNames(out.ns, out.topic, "")
			n, err := conf.FieldMaxInFlight()
			if err != nil {
				return nil, pol, 0, err
			}
			if pol, err = conf.FieldBatchPolicy("batching"); err != nil {
				return nil, pol, 0, err
			}
			return out, pol, n, nil
		})
}

type weirOutput struct {
	topics    Topics
	ns, topic string
	key       *service.InterpolatedString
	nameErr   error // a name weir refuses: never connects
}

func (o *weirOutput) Connect(ctx context.Context) error {
	if o.topics == nil {
		return errors.New("weir output: no engine attached")
	}
	if o.nameErr != nil {
		return fmt.Errorf("weir output: %w", o.nameErr)
	}
	_, err := o.topics.GetNamespace(ctx, o.ns)
	return err
}

// WriteBatch appends the batch as one atomic request per partition key
// (messages keep their order within a key) and returns after every append
// is durable.
func (o *weirOutput) WriteBatch(ctx context.Context, b service.MessageBatch) error {
	type group struct {
		key  string
		msgs []config.Message
	}
	var groups []*group
	byKey := map[string]*group{}
	static, isStatic := o.key.Static()
	for i, m := range b {
		key := static
		if !isStatic {
			var err error
			if key, err = b.TryInterpolatedString(i, o.key); err != nil {
				return err
			}
		}
		body, err := m.AsBytes()
		if err != nil {
			return err
		}
		headers := map[string]string{}
		_ = m.MetaWalk(func(k, v string) error {
			if !strings.HasPrefix(k, plugins.MetaPrefix) {
				headers[k] = v
			}
			return nil
		})
		g := byKey[key]
		if g == nil {
			g = &group{key: key}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.msgs = append(g.msgs, config.Message{Headers: headers, Body: body})
	}
	for _, g := range groups {
		req := config.ProduceRequest{Namespace: o.ns, Topic: o.topic, Messages: g.msgs, CreateTopic: true}
		if g.key != "" {
			req.Key = []byte(g.key)
		}
		if _, err := o.topics.Produce(ctx, req); err != nil {
			if errors.Is(err, config.ErrNamespaceNotFound) || errors.Is(err, config.ErrUnavailable) {
				return service.ErrNotConnected
			}
			return err
		}
	}
	return nil
}

func (o *weirOutput) Close(context.Context) error { return nil }
