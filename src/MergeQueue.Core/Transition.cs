namespace MergeQueue.Core;

/// <summary>One state change of a pull request or merge attempt, kept for the event log.</summary>
public sealed record Transition(string From, string To, string Trigger, string? Reason);

/// <summary>Thrown when a trigger is not permitted in the current state: the flows never do that on purpose.</summary>
public sealed class InvalidTransitionException(string entity, string state, string trigger)
    : InvalidOperationException($"{entity}: '{trigger}' is not allowed in state {state}")
{
    public string State { get; } = state;
    public string Trigger { get; } = trigger;
}
