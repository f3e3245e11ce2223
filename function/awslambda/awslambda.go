// Package awslambda runs backlog-alert as an AWS Lambda function on the
// provided.al2023 runtime, through aws-lambda-go.
package awslambda

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/backlog-alert/backlog-alert/function"
)

// Handler returns the Lambda handler: it takes the raw event (an EventBridge
// "Scheduled Event", a Scheduler input, or a manual test event), runs once
// within the invocation's deadline, and returns the report. A run that could
// not start or could not read anything is an error, so Lambda's own metrics
// and alarms see it; alerts fired or a channel failing are not, because a
// retried invocation would repeat every alert.
func Handler(base function.Options, logs io.Writer) func(context.Context, json.RawMessage) (*function.Report, error) {
	return func(ctx context.Context, event json.RawMessage) (*function.Report, error) {
		log := slog.New(slog.NewJSONHandler(logs, nil))
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			log = log.With("request_id", lc.AwsRequestID)
		}
		opts := base
		opts.Logger = log
		overrides, err := function.ParseEvent(event)
		if err != nil {
			log.Error("invalid event", "error", err)
			return nil, err
		}
		rep, err := function.Run(ctx, overrides.Apply(opts))
		if err == nil {
			err = function.Blind(rep)
		}
		if err != nil {
			log.Error("invocation failed", "error", err)
			return nil, err
		}
		return rep, nil
	}
}

// Start serves invocations until the Lambda runtime stops the process; the
// deadline of each comes with its context. The Go memory limit is set from
// the function's memory size, unless GOMEMLIMIT is set.
func Start(base function.Options, logs io.Writer) {
	function.SetPlatformMemoryLimit(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), os.Getenv)
	lambda.Start(Handler(base, logs))
}
