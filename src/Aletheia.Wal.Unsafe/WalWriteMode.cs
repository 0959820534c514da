namespace Aletheia.Wal;

/// <summary>How the log's segment writes are made durable on return (<see cref="WalOptions.WriteMode"/>).</summary>
public enum WalWriteMode
{
    /// <summary>
    /// <see cref="System.IO.FileOptions.WriteThrough"/> on <see cref="System.IO.RandomAccess.Write(Microsoft.Win32.SafeHandles.SafeFileHandle, System.ReadOnlySpan{byte}, long)"/>:
    /// on Linux .NET opens the segment <c>O_SYNC</c>, which makes each write's data and all of the file's metadata
    /// durable, its modification time included. The default.
    /// </summary>
    WriteThrough = 0,

    /// <summary>
    /// Linux: segments opened <c>O_DSYNC</c>. Each write's data, and the metadata needed to read it back, are durable on
    /// return, as with <see cref="WriteThrough"/>; the file's timestamps are not, which spares the file system a journal
    /// commit for a changed modification time. The log never changes a segment's size after preparing it; a segment
    /// prepared during a burst is only reserved (unwritten extents), and a write into it converts them, metadata needed to
    /// read the write back, which <c>O_DSYNC</c> makes durable before the write returns. So nothing the log reads back
    /// depends on the metadata <c>O_DSYNC</c> leaves out.
    /// Measured on this project's machine (perf/RESULTS.md): about 15 to 40% less time per small write-through write.
    /// Elsewhere the same as <see cref="WriteThrough"/>.
    /// </summary>
    DataSync = 1,
}
