using MergeQueue.Core.Config;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

/// <summary>
/// Poll behind a busy line reads no queue unless something there changed; what the queued PRs say
/// must still follow the clock and the timeouts.
/// </summary>
public class PollFlowTests
{
    [Test]
    public async Task Poll_BatchDelayRunsOutBehindABusyLine_QueuedPrsStopWaitingForIt()
    {
        var q = new QueueTester();
        q.Config = q.Config with { BatchDelay = TimeSpan.FromMinutes(10) };
        var first = q.OpenPr();
        await q.ApproveAndMerge(first);
        await q.StartBatch();
        q.Running.Should().NotBeNull();
        var (second, third) = (q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(second, third);
        q.Pr(second).Reason.Should().Be("Queued: position 1, waiting for the batch delay");

        q.Advance(TimeSpan.FromMinutes(11));
        await q.Tick();

        q.Pr(second).Reason.Should().Be("Queued: position 1");
        q.Pr(third).Reason.Should().Be("Queued: position 2");
    }

    [Test]
    public async Task Poll_QueuedPrTimesOutBehindABusyLine_ThoseBehindItMoveUp()
    {
        var q = new QueueTester();
        q.Config = q.Config with { Timeouts = new Timeouts { Queued = TimeSpan.FromHours(2), Testing = TimeSpan.FromHours(10) } };
        var first = q.OpenPr();
        await q.ApproveAndMerge(first);
        await q.StartBatch();
        var (early, late, urgent) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(early);
        q.Advance(TimeSpan.FromMinutes(30));
        await q.ApproveAndMerge(late);
        q.Advance(TimeSpan.FromMinutes(1));
        q.Approve(urgent);
        (await q.Merge(urgent, priority: 1)).Accepted.Should().BeTrue();
        q.Pr(late).Reason.Should().Be("Queued: position 3");

        // Only the PR in the middle of the line is past the limit; the first in line stays where it is.
        q.Advance(TimeSpan.FromMinutes(91));
        await q.Tick();

        q.Pr(early).State.Should().Be(PullRequestState.TimedOut);
        q.Pr(urgent).Reason.Should().Be("Queued: position 1");
        q.Pr(late).Reason.Should().Be("Queued: position 2");
    }
}
