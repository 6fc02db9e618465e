namespace MergeQueue.Simulator;

public static class SimulatorProgram
{
    public static int Main(string[] args)
    {
        // Filled in by the simulator host work (issue 2).
        return 0;
    }
}
