using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Tests.Flows;

/// <summary>The <c>mergequeue</c> check run reported beside the status (the adapter posts it for Apps only).</summary>
public class CheckRunFlowTests
{
    [Test]
    public async Task Report_QueuedTestingMerged_TitleIsTheStatusSummaryNamesTheAttemptThenCompletesSuccess()
    {
        var q = new QueueTester();
        var n = q.OpenPr("feature.txt");
        q.Approve(n);
        await q.Merge(n);
        await q.StartBatch();
        var attempt = q.Running!;
        await q.FinishCi();

        var runs = q.GitHub.CheckRuns.Where(r => r.Name == "mergequeue").Select(r => r.Report).ToArray();
        runs[0].Title.Should().StartWith("Queued: position 1");
        runs[0].Conclusion.Should().BeNull();
        runs.Should().Contain(r => r.Title.StartsWith("Testing in attempt", StringComparison.Ordinal)
            && r.Summary.Contains($"Attempt {attempt.Id}, staging commit {attempt.StagingSha!.Value.Value}", StringComparison.Ordinal));
        runs[^1].Conclusion.Should().Be(CheckRunConclusion.Success);
        runs[^1].Title.Should().Be($"Merged in {q.Main}");
        q.GitHub.Statuses[q.Pr(n).HeadSha].State.Should().Be(StatusState.Success, "the status stays beside the check run");
    }
}
