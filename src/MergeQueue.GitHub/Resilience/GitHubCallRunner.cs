using System.Diagnostics;
using MergeQueue.Core;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace MergeQueue.GitHub.Resilience;

/// <summary>What one attempt of a call knows about the attempts before it.</summary>
/// <param name="Number">1 for the first try</param>
/// <param name="AfterAmbiguousFailure">
/// an earlier attempt failed in a way that may have applied the write (5xx, timeout, transport),
/// so this attempt must look at GitHub before it writes again
/// </param>
internal sealed record CallAttempt(int Number, bool AfterAmbiguousFailure, CancellationToken CancellationToken)
{
    /// <summary>Set by an attempt that found the earlier attempt's effect already in place.</summary>
    public bool Reconciled { get; set; }
}

/// <summary>
/// Runs each adapter call through one Polly retry pipeline. The decision to retry and the wait
/// are ours (<see cref="GitHubFailure"/>, <see cref="RetryDelay"/>); Polly does the looping,
/// the waiting on the injected <see cref="TimeProvider"/> and the cancellation.
/// </summary>
internal sealed class GitHubCallRunner
{
    private static readonly ResiliencePropertyKey<CallState> StateKey = new("mergequeue.github.call");

    private readonly ResiliencePipeline _pipeline;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GitHubRetryOptions _options;
    private readonly Func<double> _random;

    public GitHubCallRunner(TimeProvider time, ILogger logger, GitHubRetryOptions options, GitHubCallMetrics metrics, Func<double>? random = null)
    {
        if (options.MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxAttempts must be at least 1.");
        _time = time;
        _logger = logger;
        _options = options;
        Metrics = metrics;
        _random = random ?? Random.Shared.NextDouble;

        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (options.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxAttempts - 1,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Context, args.Outcome.Exception, args.AttemptNumber)),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(args.Context.Properties.GetValue(StateKey, null!).NextDelay),
                OnRetry = args =>
                {
                    var state = args.Context.Properties.GetValue(StateKey, null!);
                    state.Waited += args.RetryDelay;
                    Metrics.Retried();
                    _logger.LogWarning(args.Outcome.Exception,
                        "GitHub {Operation} attempt {Attempt} failed ({Reason}); retrying in {Delay}",
                        state.Operation, args.AttemptNumber + 1, state.LastReason, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            });
        }
        _pipeline = builder.Build();
    }

    public GitHubCallMetrics Metrics { get; }

    public async Task<T> RunAsync<T>(string operation, Func<CallAttempt, Task<T>> attempt, CancellationToken ct)
    {
        // One span per call, retries included (their count is a tag): the operation's name, never its arguments.
        using var activity = Tracing.Source.StartActivity("github " + operation, ActivityKind.Client);
        activity?.SetTag("mergequeue.github.operation", operation);
        var state = new CallState(operation);
        var context = ResilienceContextPool.Shared.Get(operation, ct);
        context.Properties.Set(StateKey, state);
        var started = _time.GetTimestamp();
        var succeeded = false;
        try
        {
            var result = await _pipeline.ExecuteAsync(
                static async (ctx, s) =>
                {
                    var (state, attempt) = s;
                    state.Attempts++;
                    var current = new CallAttempt(state.Attempts, state.AmbiguousFailureSeen, ctx.CancellationToken);
                    var value = await attempt(current).ConfigureAwait(false);
                    state.Reconciled |= current.Reconciled;
                    return value;
                },
                context,
                (state, attempt)).ConfigureAwait(false);
            succeeded = true;
            return result;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
            activity?.SetTag("mergequeue.github.attempts", state.Attempts);
            if (!succeeded) activity?.SetStatus(ActivityStatusCode.Error, state.LastReason);
            Metrics.Completed(new GitHubCall(operation, state.Attempts, succeeded, state.Reconciled, _time.GetElapsedTime(started)));
        }
    }

    public async Task RunAsync(string operation, Func<CallAttempt, Task> attempt, CancellationToken ct) =>
        await RunAsync<bool>(operation, async a => { await attempt(a).ConfigureAwait(false); return true; }, ct).ConfigureAwait(false);

    private bool ShouldRetry(ResilienceContext context, Exception? exception, int attemptNumber)
    {
        if (exception is null) return false;
        // The caller gave up: that is not GitHub failing.
        if (context.CancellationToken.IsCancellationRequested) return false;

        var state = context.Properties.GetValue(StateKey, null!);
        var failure = GitHubFailure.Classify(exception, _time.GetUtcNow());
        // Sticky: a later clean refusal (a 429) does not prove the earlier 502 left nothing behind.
        state.AmbiguousFailureSeen |= failure.Ambiguous;
        state.LastReason = failure.Reason;

        var delay = RetryDelay.Next(failure, attemptNumber, state.Waited, _random(), _options);
        if (delay is null)
        {
            if (failure.Kind != FailureKind.Final)
                _logger.LogWarning("GitHub {Operation} failed ({Reason}); the wait budget of {Budget} is spent, giving up",
                    state.Operation, failure.Reason, _options.MaxTotalWait);
            return false;
        }
        state.NextDelay = delay.Value;
        return true;
    }

    /// <summary>Per-call bookkeeping shared by the attempts and the retry callbacks.</summary>
    private sealed class CallState(string operation)
    {
        public string Operation { get; } = operation;
        public int Attempts { get; set; }
        public bool AmbiguousFailureSeen { get; set; }
        public bool Reconciled { get; set; }
        public TimeSpan NextDelay { get; set; }
        public TimeSpan Waited { get; set; }
        public string? LastReason { get; set; }
    }
}
