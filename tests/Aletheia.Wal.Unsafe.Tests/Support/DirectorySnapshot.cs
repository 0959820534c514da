using System.Security.Cryptography;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Every file of a directory, by name, with a SHA-256 of its bytes: to show that something changed no byte, and created or removed no file.</summary>
internal static class DirectorySnapshot
{
    /// <summary>One line per file, <c>name length sha256</c>, in name order (empty for a missing directory).</summary>
    public static string Of(string directory) =>
        !Directory.Exists(directory) ? ""
        : string.Join('\n', Directory.GetFiles(directory).Order(StringComparer.Ordinal).Select(path =>
        {
            byte[] bytes = File.ReadAllBytes(path);
            return $"{Path.GetFileName(path)} {bytes.Length} {Convert.ToHexString(SHA256.HashData(bytes))}";
        }));
}
