using MergeQueue.Bench.Queue;

namespace MergeQueue.Bench.Tests;

public class WorkloadTests
{
    [Test]
    public void The_same_seed_gives_the_same_stream_and_another_seed_another()
    {
        var spec = new WorkloadSpec(P: 0.1, Lambda: 6, Prs: 200);

        Workload.Generate(spec, 7).Should().Equal(Workload.Generate(spec, 7));
        Workload.Generate(spec, 8).Should().NotEqual(Workload.Generate(spec, 7));
    }

    [Test]
    public void Arrivals_are_Poisson_at_lambda_and_bad_at_p()
    {
        var prs = Workload.Generate(new WorkloadSpec(P: 0.25, Lambda: 12, Prs: 4000), 1);

        var hours = (prs[^1].ArrivesAt - Workload.Start).TotalHours;
        (prs.Count / hours).Should().BeApproximately(12, 0.6);
        prs.Count(p => p.Bad).Should().BeCloseTo(1000, 90);
        prs.Select(p => p.ArrivesAt).Should().BeInAscendingOrder();
    }

    [TestCase("p=0.02,lambda=6", 0.02, 6, 0, 30, 4)]
    [TestCase("p=0.25, lambda=24, f=0.05, T=20, R=8", 0.25, 24, 0.05, 20, 8)]
    public void Workloads_parse(string text, double p, double lambda, double f, double t, int r)
    {
        var spec = WorkloadSpec.Parse(text, new WorkloadSpec(0.1, 6));

        spec.Should().BeEquivalentTo(new { P = p, Lambda = lambda, F = f, CiMinutes = t, Runners = r, Prs = 200 });
    }

    [TestCase("p=2", "p must be in [0, 1]")]
    [TestCase("q=1", "unknown workload key 'q'")]
    [TestCase("lambda", "not key=value")]
    public void Bad_workloads_are_refused_with_why(string text, string why)
    {
        var parse = () => WorkloadSpec.Parse(text, new WorkloadSpec(0.1, 6));

        parse.Should().Throw<FormatException>().WithMessage($"*{why}*");
    }
}
