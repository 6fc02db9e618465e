using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// Our queue, the real code: <see cref="MergeQueueFlows"/> over an in-memory store and
/// <see cref="BenchGitHub"/>, on the simulation's clock. Each event goes to the flow the service
/// calls for the matching webhook delivery, and Poll runs every <paramref name="pollInterval"/>.
/// </summary>
public sealed class MergeQueueAlgorithm : QueueAlgorithm
{
    private readonly BenchGitHub _github;
    private readonly MergeQueueFlows _flows;
    private readonly TimeSpan _pollInterval;
    private DateTimeOffset _permissionCachedUntil = DateTimeOffset.MinValue;
    private long _deliveries;

    public MergeQueueAlgorithm(BenchRun run, RepoConfig config, TimeSpan pollInterval) : base(run)
    {
        _pollInterval = pollInterval;
        _github = new BenchGitHub(run, config);
        _flows = new MergeQueueFlows(_github, new InMemoryQueueStore(), new FixedConfig(config), run.Sim.Clock, new FlowOptions(), NullLogger<MergeQueueFlows>.Instance);
        // GitHub's deliveries, handled as the service's DeliveryHandler does.
        _github.ChecksChanged = async (sha, done) =>
        {
            var cause = NextDelivery();
            if (done)
            {
                await _flows.TestAsync(BenchGitHub.Repo, sha, cause, default);
                await _flows.TestTryAsync(BenchGitHub.Repo, sha, cause, default);
            }
            await _flows.InitiateForCommitAsync(BenchGitHub.Repo, sha, cause, default);
        };
        // The push delivery of a target move arrives after the flow that moved it has finished.
        _github.TargetPushed = (branch, sha) =>
            run.Sim.At(run.Sim.Now, () => _flows.TargetPushedAsync(BenchGitHub.Repo, branch, sha, NextDelivery(), default));
    }

    public override (int Reads, int Writes)? ApiCalls => (_github.Reads, _github.Writes);

    public override Task StartAsync()
    {
        Run.Sim.After(_pollInterval, TickAsync);
        return Task.CompletedTask;
    }

    private async Task TickAsync()
    {
        await _flows.PollAsync(Cause.Poll($"tick-{Run.Sim.Now:O}"), default);
        Run.Sim.After(_pollInterval, TickAsync);
    }

    /// <summary>The merge command, as the service takes it: the commenter's permission (cached a minute), the request, the reaction.</summary>
    public override async Task ArriveAsync(PrSpec pr)
    {
        _github.Open(pr);
        const string actor = "maintainer";
        if (Run.Sim.Now >= _permissionCachedUntil)
        {
            await _github.GetPermissionAsync(BenchGitHub.Repo, actor, default);
            _permissionCachedUntil = Run.Sim.Now + TimeSpan.FromMinutes(1);
        }
        var result = await _flows.RequestAsync(BenchGitHub.Repo, pr.Number, new MergeRequest(actor), Cause.Command(NextDelivery().Id, actor), default);
        await _github.AddReactionAsync(BenchGitHub.Repo, pr.Number, result.Accepted ? "+1" : "confused", default);
        if (!result.Accepted) Run.Reject(pr.Number);
    }

    private Cause NextDelivery() => Cause.Delivery($"delivery-{++_deliveries}");

    private sealed class FixedConfig(RepoConfig config) : IRepoConfigs
    {
        public Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct) => Task.FromResult<RepoConfig?>(repo == BenchGitHub.Repo ? config : null);
    }
}
