using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Tests that measure the whole process (its CPU time, <see cref="GC.GetTotalAllocatedBytes(bool)"/>) run in this
/// collection: xunit runs it alone, after the parallel ones, so other tests cannot add to what they measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Process-wide measurements";
}
