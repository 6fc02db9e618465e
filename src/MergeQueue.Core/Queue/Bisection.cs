namespace MergeQueue.Core.Queue;

/// <summary>Seed 003's Test: a failing batch of n &gt; 1 splits into two halves; a batch of one fails its PR.</summary>
public static class Bisection
{
    /// <summary>The two halves, in queue order; the first gets the extra one when n is odd.</summary>
    public static (IReadOnlyList<T> First, IReadOnlyList<T> Second) Halve<T>(IReadOnlyList<T> batch)
    {
        if (batch.Count < 2) throw new ArgumentException("only a batch of two or more can be split", nameof(batch));
        var firstSize = (batch.Count + 1) / 2;
        return (batch.Take(firstSize).ToArray(), batch.Skip(firstSize).ToArray());
    }
}
