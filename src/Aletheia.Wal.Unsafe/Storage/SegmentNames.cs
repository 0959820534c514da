using System.Globalization;

namespace Aletheia.Wal.Storage;

/// <summary>Segment file names: <c>{number:D20}.wal</c>, zero-padded so that names sort in log order.</summary>
internal static class SegmentNames
{
    public const string Extension = ".wal";

    /// <summary>A segment being zero-filled; renamed to its final name once durable. Leftovers are deleted at open.</summary>
    public const string PreparingExtension = ".wal.tmp";

    public const string LockFileName = "wal.lock";

    /// <summary>A segment freed by truncation and kept for reuse; it still holds stale frames of its earlier use.</summary>
    public const string RecycledExtension = ".recycle";

    public static string PathOf(string directory, ulong number) =>
        Path.Combine(directory, number.ToString("D20", CultureInfo.InvariantCulture) + Extension);

    public static string RecycledPathOf(string directory, ulong number) =>
        Path.Combine(directory, number.ToString("D20", CultureInfo.InvariantCulture) + RecycledExtension);

    public static bool TryParse(string fileName, out ulong number) => TryParse(fileName, Extension, out number);

    /// <summary>A name of the log's numbered kind <paramref name="extension"/>: exactly 20 digits, then the extension.</summary>
    public static bool TryParse(string fileName, string extension, out ulong number)
    {
        number = 0;
        return fileName.Length == 20 + extension.Length
            && fileName.EndsWith(extension, StringComparison.Ordinal)
            && ulong.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>The number of a segment file or a recycled one, from its name's 20 digits; 0 for any other file.</summary>
    public static ulong NumberOf(string path)
    {
        ReadOnlySpan<char> name = Path.GetFileName(path.AsSpan());
        return name.Length > 20 && name[20] == '.' && ulong.TryParse(name[..20], NumberStyles.None, CultureInfo.InvariantCulture, out ulong number) ? number : 0;
    }

    /// <summary>The segment numbers in <paramref name="directory"/>, ascending.</summary>
    public static List<ulong> List(WalStorage storage, string directory)
    {
        var numbers = new List<ulong>();
        foreach (string name in storage.ListFiles(directory, "*" + Extension))
        {
            if (TryParse(name, out ulong number))
            {
                numbers.Add(number);
            }
        }

        numbers.Sort();
        return numbers;
    }
}
